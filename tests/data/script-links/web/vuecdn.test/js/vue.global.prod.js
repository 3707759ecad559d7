window.Vue={createApp:function(opts){return {mount:function(sel){var root=document.querySelector(sel);var data=opts.data();
root.querySelectorAll('[v-for]').forEach(function(t){var m=t.getAttribute('v-for').match(/(\w+) in (\w+)/);var parent=t.parentNode;
data[m[2]].forEach(function(item){var a=document.createElement('a');a.href=item.url;a.textContent=item.title;parent.appendChild(a);});t.remove();});}}}};
