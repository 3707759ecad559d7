var s=window.__PRELOADED_STATE__;var el=document.getElementById('recommended');var ul=document.createElement('ul');el.appendChild(ul);
function fill(el, items) {
  items.forEach(function (item) {
    var a = document.createElement("a");
    a.href = item.url; a.textContent = item.title;
    var li = document.createElement("li"); li.appendChild(a); el.appendChild(li);
  });
}
fill(ul, s.recommended);
