/*
 * lvit-bench report: the "try it" panel (report/src/demo.ts). Runs an exported model with
 * onnxruntime-web (wasm, one thread). Plain script so the page works from file://: the runtime,
 * its wasm (base64) and each model (base64) are classic scripts loaded on demand, ORT's wasm glue
 * module becomes a blob: URL, and images are data:/blob: URLs (a file:// image taints the canvas).
 * Results are also written to data-* attributes of #demo-status for the browser test.
 */
(function () {
  'use strict';

  var dataEl = document.getElementById('demo-data');
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var select = document.getElementById('demo-model');
  var why = document.getElementById('demo-why');
  var imagesBox = document.getElementById('demo-images');
  var drop = document.getElementById('demo-drop');
  var fileInput = document.getElementById('demo-file');
  var sentenceBox = document.getElementById('demo-sentence-box');
  var sentenceSelect = document.getElementById('demo-sentence');
  var status = document.getElementById('demo-status');
  var canvas = document.getElementById('demo-canvas');
  var scripts = {};
  var sessions = {};
  var ortReady = false;

  function say(text, state, extra) {
    status.textContent = text;
    status.setAttribute('data-state', state);
    ['ms', 'dice', 'stored'].forEach(function (k) {
      if (extra && extra[k] !== undefined) status.setAttribute('data-' + k, String(extra[k]));
      else status.removeAttribute('data-' + k);
    });
  }

  function loadScript(src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var s = document.createElement('script');
        s.src = src;
        s.onload = resolve;
        s.onerror = function () {
          reject(new Error('could not load ' + src));
        };
        document.head.appendChild(s);
      });
    }
    return scripts[src];
  }

  function fromBase64(text) {
    var bin = atob(text);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }

  function sessionOf(model) {
    if (!sessions[model.anchor]) {
      sessions[model.anchor] = loadScript(data.ort.runtime)
        .then(function () { return loadScript(data.ort.glue); })
        .then(function () { return loadScript(data.ort.wasm); })
        .then(function () { return loadScript(model.script); })
        .then(function () {
          var ort = window.ort;
          if (!ortReady) {
            ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which file:// cannot have
            ort.env.wasm.wasmBinary = fromBase64(window.LVIT_ORT_WASM).buffer;
            ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([window.LVIT_ORT_GLUE], { type: 'text/javascript' })) };
            ortReady = true;
          }
          return ort.InferenceSession.create(fromBase64(window.LVIT_DEMO_MODELS[model.anchor]), { executionProviders: ['wasm'] });
        });
      sessions[model.anchor].catch(function () {
        delete sessions[model.anchor];
      });
    }
    return sessions[model.anchor];
  }

  function loadImage(src, name) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () {
        resolve(img);
      };
      img.onerror = function () {
        reject(new Error(name + ' could not be decoded as an image'));
      };
      img.src = src;
    });
  }

  /** RGBA bytes of `img` drawn at w x h. */
  function rgbaAt(img, w, h) {
    var c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    var ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h).data;
  }

  /** [1,H,W,C] float32 in the model's channel order, uint8 / 255 as training read images. */
  function modelInput(model, rgba) {
    var h = model.inputShape[0], w = model.inputShape[1], c = model.inputShape[2];
    var x = new Float32Array(h * w * c);
    for (var p = 0; p < h * w; p++) {
      for (var k = 0; k < c; k++) {
        var src = c === 1 ? 0 : model.channelOrder === 'bgr' ? 2 - k : k;
        x[p * c + k] = rgba[4 * p + src] / 255;
      }
    }
    return x;
  }

  function drawOverlay(img, mask, w, h) {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    var ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    var m = document.createElement('canvas');
    m.width = w;
    m.height = h;
    var mctx = m.getContext('2d');
    var tint = mctx.createImageData(w, h);
    for (var p = 0; p < w * h; p++) {
      if (!mask[p]) continue;
      tint.data[4 * p] = 255;
      tint.data[4 * p + 2] = 200;
      tint.data[4 * p + 3] = 115;
    }
    mctx.putImageData(tint, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(m, 0, 0, canvas.width, canvas.height);
  }

  /** Dice in the test convention (LVIT.md §4): 2|P∩G| / (|P| + |G| + 1e-5). */
  function dice(mask, gtRgba) {
    var tp = 0, p = 0, g = 0;
    for (var i = 0; i < mask.length; i++) {
      var gi = gtRgba[4 * i] > 127;
      if (mask[i]) p++;
      if (gi) g++;
      if (mask[i] && gi) tp++;
    }
    return (2 * tp) / (p + g + 1e-5);
  }

  /** [1,T,D] features of a bundled sentence (LViT-T), checked against the model's text shape. */
  function textInput(model, features) {
    var t = model.textShape[0], d = model.textShape[1];
    var bytes = fromBase64(features);
    var f = new Float32Array(bytes.buffer, 0, bytes.length / 4);
    if (f.length !== t * d) throw new Error('bundled text features have ' + f.length + ' values, the model wants ' + t + 'x' + d);
    return new window.ort.Tensor('float32', f, [1, t, d]);
  }

  function segment(model, imageSrc, name, test) {
    if (!model.script) {
      say(model.label + ': ' + model.why, 'refused');
      return Promise.resolve();
    }
    // LViT-T: a test image reads its own sentence; a dropped one the sentence chosen in the list.
    var sentence = model.textShape ? (test || model.images[sentenceSelect.selectedIndex]) : null;
    say('Loading the model and onnxruntime-web…', 'busy');
    var h = model.inputShape[0], w = model.inputShape[1];
    return Promise.all([sessionOf(model), loadImage(imageSrc, name), test ? loadImage(test.groundTruth, test.id + ' ground truth') : null])
      .then(function (r) {
        var session = r[0], img = r[1], gt = r[2];
        var x = modelInput(model, rgbaAt(img, w, h));
        var t0 = performance.now();
        var feeds = { i0: new window.ort.Tensor('float32', x, [1, h, w, model.inputShape[2]]) };
        if (sentence) feeds.i1 = textInput(model, sentence.features);
        return session.run(feeds).then(function (out) {
          var ms = performance.now() - t0;
          var prob = out.o0.data;
          var mask = new Uint8Array(prob.length);
          var fg = 0;
          for (var i = 0; i < prob.length; i++) if ((mask[i] = prob[i] > 0.5 ? 1 : 0)) fg++;
          drawOverlay(img, mask, w, h);
          var text = name + (sentence ? ' with "' + sentence.text + '"' : '') + ': ' + (100 * fg / mask.length).toFixed(1) + '% foreground, ' + ms.toFixed(0) + ' ms in this page';
          var extra = { ms: ms.toFixed(1) };
          if (gt) {
            var d = dice(mask, rgbaAt(gt, w, h));
            extra.dice = d;
            text += '; Dice here ' + (100 * d).toFixed(2);
            if (test.dice !== null) {
              extra.stored = test.dice;
              text += ', run ' + model.runId + ' stored ' + (100 * test.dice).toFixed(2);
            }
          }
          say(text, 'done', extra);
        });
      })
      .catch(function (err) {
        say(String(err && err.message ? err.message : err), 'error');
      });
  }

  function current() {
    return data.models[select.selectedIndex];
  }

  function showModel() {
    var model = current();
    why.textContent = model.why ? 'Not runnable here: ' + model.why + '.' : '';
    imagesBox.textContent = '';
    sentenceSelect.textContent = '';
    sentenceBox.hidden = !model.textShape || !model.script;
    model.images.forEach(function (test) {
      if (!test.text) return;
      var o = document.createElement('option');
      o.textContent = test.text;
      sentenceSelect.appendChild(o);
    });
    model.images.forEach(function (test) {
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'demo-image';
      b.setAttribute('data-id', test.id);
      b.title = 'segment test image ' + test.id;
      var thumb = document.createElement('img');
      thumb.src = test.image;
      thumb.alt = test.id;
      b.appendChild(thumb);
      b.addEventListener('click', function () {
        segment(model, test.image, test.id, test);
      });
      imagesBox.appendChild(b);
    });
  }

  function segmentFile(file) {
    if (!file) return;
    if (!/^image\//.test(file.type)) {
      say(file.name + ' is not an image (' + (file.type || 'unknown type') + '); drop a PNG, JPEG or similar', 'error');
      return;
    }
    var url = URL.createObjectURL(file);
    segment(current(), url, file.name, null).then(function () {
      URL.revokeObjectURL(url);
    });
  }

  data.models.forEach(function (model) {
    var o = document.createElement('option');
    o.value = model.anchor;
    o.textContent = model.label + (model.script ? '' : ' (download only)');
    select.appendChild(o);
  });
  select.addEventListener('change', showModel);
  fileInput.addEventListener('change', function () {
    segmentFile(fileInput.files[0]);
  });
  drop.addEventListener('dragover', function (e) {
    e.preventDefault();
  });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    segmentFile(e.dataTransfer && e.dataTransfer.files[0]);
  });
  showModel();
})();
