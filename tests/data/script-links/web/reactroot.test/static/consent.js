document.getElementById('cookie-root').textContent='Accept cookies?';
