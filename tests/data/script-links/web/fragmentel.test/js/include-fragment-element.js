customElements.define('include-fragment',class extends HTMLElement{connectedCallback(){fetch(this.getAttribute('src')).then(r=>r.text()).then(h=>{this.outerHTML=h})}});
