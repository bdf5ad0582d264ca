// MetricPulse tracker
(_=>{try{
let w=self,d=document,l=location,s=d.currentScript,D=s.dataset,I=D.websiteId,
x=D.extensions+[/\.[\w.-]*\.js\b/.exec(s.src)],E=k=>x.includes(k),h=E('hash')||'hash'in D,t=!d.hidden&&+new Date,q=[...(w.metricpulse||0).q||[],...(w.plausible||0).q||[]],Z,
U=D.api||new URL(I?'/track':'/api/event',s.src),
O=!('local'in D)&&/^(localhost|127\.|\[::1\]|$)/.test(l.hostname),
S=(e,o={})=>{try{
let u=l.href.replace(h?'':/#.*/,''),r=d.referrer;
e=JSON.stringify(I?{websiteId:I,eventType:e,url:u,referrer:r||void 0,props:o.props,interactive:o.interactive,hashMode:h||void 0}
:{n:e,u,d:D.domain,r:r||null,p:o.props,i:o.interactive,h:+h});
O||localStorage.metricpulse_ignore=='true'||navigator.sendBeacon&&navigator.sendBeacon(U,e)||fetch(U,{method:'POST',keepalive:!0,body:e});
o.callback&&o.callback()}catch(_){}},
V=_=>(_=l.pathname+(h?l.hash:''))!=Z&&S('pageview',Z=_),
L=_=>t&&S('engagement',{props:{seconds:(+new Date-t)/1e3|0},interactive:!1},t=0);
for(let k of['pushState','replaceState'])history[k]=(f=>function(){f.apply(this,arguments);V()})(history[k]);
addEventListener('popstate',V);
d.addEventListener('click',e=>{try{let a=e.target.closest('a'),n=E('downloads')&&/\.(pdf|docx?|xlsx?|csv|zip|gz|exe|mp[34])$/i.test(a.pathname)?'File Download'
:E('links')&&a.host&&a.host!=l.host&&'Outbound Link: Click';n&&S(n,{props:{url:a.href}})}catch(_){}},!0);
E('engagement')&&d.addEventListener('visibilitychange',_=>d.hidden?L():t=+new Date)&addEventListener('pagehide',L);
V();E('404')&&S('404',{props:{path:l.pathname}});w.metricpulse=S;w.plausible=S;w.umami=w.umami||{track:(e,v)=>S(e,{props:v})};q.forEach(a=>S(...a))
}catch(_){}})()
