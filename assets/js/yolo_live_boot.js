// js_on_load of the live YOLO view (a gr.HTML in tabs/yolo_detect/tab.py): Gradio runs this body with
// `element`, `trigger`, `props` and `server` in scope when the view is shown. It fills in the words and
// loads the page code (yolo_live.mjs, served by Gradio's file route) as an ES module.
// The view triggers two custom events, 'fallback' and 'snapshot' (Gradio finds custom event names quoted in
// this text; the tab listens to them).
const config = window.gradio_config || {};
const root = String(config.root || '').replace(/\/$/, '');
const prefix = config.api_prefix || '/gradio_api';
const fileUrl = path => `${root}${prefix}/file=${path}`;
const lang = (document.documentElement.lang || navigator.language || 'ko').toLowerCase().startsWith('en') ? 'en' : 'ko';
element.querySelectorAll('[data-word]').forEach(node => { node.textContent = props.words[lang][node.dataset.word]; });
import(`${fileUrl(props.page_module)}?v=${props.page_version}`)
  .then(module => module.start({ element, props, trigger, server, fileUrl }))
  .catch(error => {
    // Without the page code the browser cannot detect: say so and hand over to the server path.
    const status = element.querySelector('[data-role="status"]');
    if (status) status.textContent = props.words[lang].fallback_page.replace('{detail}', String(error));
    trigger('fallback', { reason: 'page', detail: String(error).slice(0, 300) });
  });
