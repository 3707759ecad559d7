var app = document.getElementById('app'); var ul = document.createElement('ul'); app.appendChild(ul);
function fill(el, items) {
  items.forEach(function (item) {
    var a = document.createElement("a");
    a.href = item.url; a.textContent = item.title;
    var li = document.createElement("li"); li.appendChild(a); el.appendChild(li);
  });
}
fill(ul, [{"title": "vite-vue resource 1", "url": "http://gone.test/vite-vue-1"}, {"title": "vite-vue resource 2", "url": "http://gone.test/vite-vue-2"}, {"title": "vite-vue resource 3", "url": "http://gone.test/vite-vue-3"}]);
