var r = document.querySelector('app-root'); var ul = document.createElement('ul'); r.appendChild(ul);
function fill(el, items) {
  items.forEach(function (item) {
    var a = document.createElement("a");
    a.href = item.url; a.textContent = item.title;
    var li = document.createElement("li"); li.appendChild(a); el.appendChild(li);
  });
}
fill(ul, [{"title": "angular-app-root resource 1", "url": "http://gone.test/angular-app-root-1"}, {"title": "angular-app-root resource 2", "url": "http://gone.test/angular-app-root-2"}, {"title": "angular-app-root resource 3", "url": "http://gone.test/angular-app-root-3"}]);
