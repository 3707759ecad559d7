fetch('/api/related').then(r=>r.json()).then(d=>{var el=document.querySelector('.related');el.innerHTML='<ul>'+d.map(i=>'<li><a href="'+i.url+'">'+i.title+'</a></li>').join('')+'</ul>';});
