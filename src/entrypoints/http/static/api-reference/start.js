// Starts the vendored Scalar bundle (../scalar/standalone.js) on the element that names the
// document and carries the settings, so that the page runs no inline script:
// entrypoints/http/controllers/docs.py writes both attributes and loads this file first.
"use strict";

// The bundle's schema library (zod) probes whether it may compile with `Function`, which
// the page's policy refuses, reporting a violation each time; jitless, it never asks.
globalThis.__zod_globalConfig = { ...globalThis.__zod_globalConfig, jitless: true };

document.addEventListener("DOMContentLoaded", () => {
  const mount = document.getElementById("portico-api-reference");
  Scalar.createApiReference(mount, {
    ...JSON.parse(mount.dataset.settings),
    url: mount.dataset.document,
  });
});
