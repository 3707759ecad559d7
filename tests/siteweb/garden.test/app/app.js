// Inserts the planner's links: a plain HTTP crawler never sees them.
document.getElementById("root").innerHTML =
  '<main><h1>Planner</h1><p>See the <a href="/app/hidden.html">hidden planner page</a> ' +
  'and the <a href="http://oldnursery.test/js-planner">Old Nursery planner</a>.</p></main>';
// requests the browser guard must abort (private and loopback addresses)
for (const src of ["http://10.0.0.1/pixel.gif", "http://127.0.0.1:9/pixel.gif"]) {
  const img = new Image();
  img.src = src;
}
