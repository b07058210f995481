/** The only CSS: inline, allowed by the page's nonce; no external sheet, so the page works offline. */
export const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f7f8fa}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;background:#1d2430;color:#fff}
header nav{display:flex;gap:.8rem;margin-left:auto}
header a{color:#cfe0ff;text-decoration:none}header a[aria-current]{color:#fff;font-weight:600;text-decoration:underline}
main{padding:0 1rem 1rem}h1{font-size:1.2rem}h2{font-size:1rem;margin-top:1.4rem}
.muted{color:#6b7480}header .muted{color:#aab3bf}
.health{padding:.5rem .8rem;border-radius:4px;font-weight:600}
.health.ok{background:#e3f5e6;color:#17602a}.health.bad{background:#fde8e7;color:#8f1d16}
table{border-collapse:collapse;width:100%;background:#fff;margin:.4rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.err{color:#8f1d16;max-width:28rem;overflow-wrap:anywhere}
pre{background:#fff;border:1px solid #e4e7eb;padding:.6rem;overflow:auto;max-height:24rem}
.chart{background:#fff;border:1px solid #e4e7eb;max-width:100%;height:auto}
.chart .bar{fill:#3b6fd4}.chart .axis{stroke:#9aa3ad}.chart .tick{font-size:10px;fill:#6b7480}
button{font:inherit;padding:.15rem .6rem;cursor:pointer}
form.filter{display:flex;gap:.6rem;align-items:end;margin:.6rem 0}
label{display:flex;flex-direction:column;font-size:.85rem}
`;
