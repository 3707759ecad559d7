document.querySelectorAll('astro-island[client=only]').forEach(function(el){var ul=document.createElement('ul');el.appendChild(ul);
function fill(el, items) {
  items.forEach(function (item) {
    var a = document.createElement("a");
    a.href = item.url; a.textContent = item.title;
    var li = document.createElement("li"); li.appendChild(a); el.appendChild(li);
  });
}
fill(ul, [{"title": "astro-client-only resource 1", "url": "http://gone.test/astro-client-only-1"}, {"title": "astro-client-only resource 2", "url": "http://gone.test/astro-client-only-2"}, {"title": "astro-client-only resource 3", "url": "http://gone.test/astro-client-only-3"}]);});
