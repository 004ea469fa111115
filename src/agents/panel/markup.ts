/**
 * The agent panel's markup and style: what page.ts's script finds by id and fills in. Static
 * text, written once into the page (index.ts), whose style the page's policy allows by hash.
 */
export const PANEL_STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}
header{background:#1b2b44;color:#fff;padding:10px 16px;display:flex;gap:12px;align-items:center}
header h1{font-size:16px;margin:0 12px 0 0}
main{display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px}
section{background:#fff;border-radius:6px;padding:12px;box-shadow:0 1px 2px #0002}
h2{font-size:14px;margin:0 0 8px}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #e3e5e8;font-size:13px}
.masked{font-family:ui-monospace,monospace;letter-spacing:1px}
#log{font-family:ui-monospace,monospace;font-size:12px;max-height:260px;overflow:auto;margin:0;padding:0;list-style:none}
#log li{border-bottom:1px solid #eee;padding:2px 0}
.err{color:#b00020}.ok{color:#0a7a32}
header .err{color:#ffc2c2}header .ok{color:#a8efc0}
tr.selected td{background:#e6eefb}
.wide{grid-column:1/3}
label{margin-right:10px}input,select,button{font:inherit}
`;

export const PANEL_BODY = `
<header><h1>tonewall agent</h1>
<input id="token" type="password" placeholder="paste your token" aria-label="agent token" autocomplete="off" size="40">
<button id="signin">Sign in</button> <button id="signout">Sign out</button><span id="status" role="status"></span><span id="connection"></span></header>
<main>
<section><h2>Calls <button id="refresh">Refresh</button></h2>
<table><thead><tr><th>call</th><th>from</th><th>state</th><th>fields</th><th>result</th><th></th></tr></thead><tbody id="calls"></tbody></table></section>
<section><h2>Secure capture: <span id="selected"></span></h2>
<p><label>Field <input id="capture-name" value="card" size="12"></label>
<label>Kind <select id="capture-kind"><option>card-number</option><option value="expiry">expiry (MMYY)</option><option>security-code</option><option>digits</option><option value="date">date (DDMMYYYY)</option><option>routing-number</option><option>postal-code</option></select></label>
<label><input id="capture-blanket" type="checkbox"> blanket tone</label></p>
<p><button id="capture-start">Start capture</button> <button id="capture-cancel">Cancel</button></p>
<table><tbody>
<tr><th>field</th><td id="capture-field"></td></tr>
<tr><th>status</th><td id="capture-status" aria-live="polite"></td></tr>
<tr><th>entered</th><td id="capture-entered"></td></tr>
<tr><th>value</th><td id="capture-masked" class="masked"></td></tr>
<tr><th>brand</th><td id="capture-brand"></td></tr>
<tr><th>check</th><td id="capture-valid"></td></tr>
</tbody></table></section>
<section class="wide"><h2>Payment <span id="payment-status"></span></h2>
<p><button id="payment-start">Start payment</button> <label><input id="payment-postal" type="checkbox"> postal code</label>
<button id="payment-complete">Complete</button> <button id="payment-cancel">Cancel payment</button></p>
<table><thead><tr><th>field</th><th>kind</th><th>status</th><th>value</th><th></th></tr></thead><tbody id="payment-fields"></tbody></table>
<div id="results" aria-live="polite"></div></section>
<section class="wide"><h2>Events</h2><ul id="log"></ul></section>
</main>`;
