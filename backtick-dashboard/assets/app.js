// backtick dashboard: the one script. Every page works without it; it adds live polling,
// keyboard navigation, row selection for bulk actions, and confirmations.
"use strict";

(function () {
  const POLL_KEY = "backtick.poll";
  let timer = null;

  // ---- Live polling -------------------------------------------------------------------
  // Every N seconds the current page is fetched again and its <main> swapped in. Paused
  // while the tab is hidden, while rows are selected, and while a form field has focus, so
  // a refresh never takes away what the operator is doing.

  function pollSeconds() {
    const stored = Number(window.localStorage.getItem(POLL_KEY) || "0");
    return [0, 2, 5, 15].includes(stored) ? stored : 0;
  }

  function status(text) {
    const el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }

  function pausedBecause() {
    if (document.hidden) return "paused: tab hidden";
    if (document.querySelector('input[name="job"]:checked')) return "paused: rows selected";
    const active = document.activeElement;
    if (active && active.id !== "poll" && active.closest("main") && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return "paused: editing";
    }
    return null;
  }

  async function refresh() {
    const reason = pausedBecause();
    if (reason) {
      status(reason);
      return;
    }
    try {
      const response = await fetch(window.location.href, { headers: { "X-Requested-With": "backtick-poll" }, credentials: "same-origin" });
      if (!response.ok) {
        status("refresh failed: " + response.status);
        return;
      }
      const html = await response.text();
      // Checked again: the operator may have started selecting while the page loaded.
      if (pausedBecause()) return;
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
      const main = document.getElementById("main");
      if (fresh && main) {
        const focusedHref = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.href : null;
        main.replaceChildren(...fresh.childNodes);
        restoreFocus(focusedHref);
        document.dispatchEvent(new CustomEvent("backtick:refreshed"));
      }
      status("updated " + new Date().toLocaleTimeString());
    } catch (error) {
      status("refresh failed");
    }
  }

  function restoreFocus(href) {
    if (!href) return;
    const row = document.querySelector('tr[data-href="' + CSS.escape(href) + '"]');
    if (row) row.focus({ preventScroll: true });
  }

  function schedule() {
    if (timer) window.clearInterval(timer);
    timer = null;
    const seconds = pollSeconds();
    if (seconds > 0) {
      timer = window.setInterval(refresh, seconds * 1000);
      status("every " + seconds + " s");
    } else {
      status("");
    }
  }

  // ---- Selection and bulk bar ---------------------------------------------------------

  function syncSelection() {
    const boxes = Array.from(document.querySelectorAll('input[name="job"]'));
    const any = boxes.some((box) => box.checked);
    document.querySelectorAll("[data-needs-selection]").forEach((button) => {
      button.disabled = !any;
    });
    boxes.forEach((box) => {
      const row = box.closest("tr");
      if (row) row.classList.toggle("selected", box.checked);
    });
    const all = document.getElementById("select-all");
    if (all) all.checked = any && boxes.every((box) => box.checked);
  }

  // ---- Keyboard ------------------------------------------------------------------------
  // j / k (or arrows) move between table rows, Enter opens the focused row, x selects it,
  // / jumps to the first filter field.

  function rows() {
    return Array.from(document.querySelectorAll("table.rows tbody tr[tabindex]"));
  }

  function move(step) {
    const all = rows();
    if (all.length === 0) return;
    const index = all.indexOf(document.activeElement);
    const next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    all[next].focus();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName)) return;
    const row = target && target.closest ? target.closest("tr[tabindex]") : null;
    switch (event.key) {
      case "j":
      case "ArrowDown":
        move(1);
        event.preventDefault();
        break;
      case "k":
      case "ArrowUp":
        move(-1);
        event.preventDefault();
        break;
      case "Enter":
        if (row && row.dataset.href) window.location.href = row.dataset.href;
        break;
      case "x":
        if (row) {
          const box = row.querySelector('input[name="job"]');
          if (box) {
            box.checked = !box.checked;
            syncSelection();
          }
        }
        break;
      case "/": {
        const field = document.querySelector(".filters input:not([type=hidden])");
        if (field) {
          field.focus();
          event.preventDefault();
        }
        break;
      }
      default:
        break;
    }
  }

  // ---- Wiring (delegated: <main> is replaced by polling) --------------------------------

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "poll") {
      window.localStorage.setItem(POLL_KEY, target.value);
      schedule();
    } else if (target.id === "select-all") {
      document.querySelectorAll('input[name="job"]').forEach((box) => {
        box.checked = target.checked;
      });
      syncSelection();
    } else if (target.name === "job") {
      syncSelection();
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (target.closest("a, button, input, label, select, td.check")) return;
    const row = target.closest("tr[data-href]");
    if (row && !window.getSelection().toString()) window.location.href = row.dataset.href;
  });

  document.addEventListener("keydown", onKey);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && pollSeconds() > 0) refresh();
  });
  document.addEventListener("backtick:refreshed", syncSelection);

  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("poll");
    if (select) select.value = String(pollSeconds());
    syncSelection();
    schedule();
  });
})();
