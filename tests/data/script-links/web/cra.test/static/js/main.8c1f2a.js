var root = document.getElementById('root'); var ul = document.createElement('ul'); root.appendChild(ul);
function fill(el, items) {
  items.forEach(function (item) {
    var a = document.createElement("a");
    a.href = item.url; a.textContent = item.title;
    var li = document.createElement("li"); li.appendChild(a); el.appendChild(li);
  });
}
fill(ul, [{"title": "cra-root resource 1", "url": "http://gone.test/cra-root-1"}, {"title": "cra-root resource 2", "url": "http://gone.test/cra-root-2"}, {"title": "cra-root resource 3", "url": "http://gone.test/cra-root-3"}]);
