// Placeholder: lists the pipelines from /api/pipelines (the dashboard replaces this file).
'use strict';
fetch('/api/pipelines').then(r => r.json()).then(d => {
  const app = document.getElementById('app');
  app.textContent = (d.pipelines || []).map(p => `${p.id} ${p.name} ${p.state}`).join('\n');
});
