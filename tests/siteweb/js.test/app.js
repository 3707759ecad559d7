// Inserts the page's links once it runs; the raw HTML has none.
document.getElementById("app").innerHTML =
  '<main><h1>Seed swap</h1><p>Swap at the <a href="http://oldnursery.test/js-swap">Old Nursery swap</a> ' +
  'or get <a href="http://seeds.test/js-alive">seeds</a>.</p></main>';
