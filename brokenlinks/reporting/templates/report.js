// Sorting and filtering of the report's tables; no library, no network.
"use strict";
(function () {
  // a closed <details> prints nothing: open them all for print
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  // copy a pitch's draft: the Clipboard API where the page may use it, else a selection
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var area = document.getElementById(button.getAttribute("data-copy"));
      function done() { button.textContent = "Copied"; }
      function fallback() {
        area.closest("details").open = true;
        area.select();
        if (document.execCommand("copy")) { done(); } else { button.textContent = "Select and copy (Ctrl+C)"; }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(area.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
  function cellValue(row, index) {
    var cell = row.cells[index];
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim() : v;
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a.localeCompare(b);
  }
  document.querySelectorAll("table.rows").forEach(function (table) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      th.querySelector("button").addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var order = rows.map(function (row, i) { return [cellValue(row, index), i]; });
        order.sort(function (p, q) {
          var c = compare(p[0], q[0]);
          return (ascending ? c : -c) || p[1] - q[1];
        });
        var fragment = document.createDocumentFragment();
        order.forEach(function (pair) { fragment.appendChild(rows[pair[1]]); });
        body.appendChild(fragment);
      });
    });
    var bar = document.querySelector('.filters[data-table="' + table.id + '"]');
    if (!bar) { return; }
    var search = bar.querySelector("input[data-search]");
    var selects = Array.prototype.slice.call(bar.querySelectorAll("select[data-col]"));
    var count = bar.querySelector("output.count");
    var all = bar.querySelector("input[data-all-columns]");
    if (all) {
      all.addEventListener("change", function () { table.classList.toggle("all", all.checked); });
    }
    function apply() {
      var needle = search.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row, i) {
        var keep = !needle || texts[i].indexOf(needle) !== -1;
        selects.forEach(function (select) {
          if (keep && select.value !== "") {
            keep = row.cells[Number(select.getAttribute("data-col"))].textContent.trim() === select.value;
          }
        });
        row.hidden = !keep;
        if (keep) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows";
    }
    search.addEventListener("input", apply);
    selects.forEach(function (select) { select.addEventListener("change", apply); });
    apply();
  });
})();
