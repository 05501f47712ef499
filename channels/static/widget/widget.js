/*
 * Tiếp Dân web widget — a chat bubble that opens a conversation with the district's
 * automated assistant. Embed it with one line on any page of an allowed site:
 *
 *   <script src="https://HOST/widget.js" data-lang="vi" async></script>
 *
 * data-lang     "vi" (default) or "en": the language until the resident switches.
 * data-title    optional name shown in the header (default "Tiếp Dân").
 *
 * Plain JavaScript, no build step, nothing loaded from anywhere but HOST (works on an
 * intranet). The widget lives in a shadow root, so the host page's CSS cannot break it.
 * It talks to HOST over a WebSocket (/widget/ws): the server issues a signed session kept
 * in localStorage, every message carries a uuid and stays queued (in localStorage too)
 * until the server acknowledges it, and after a lost connection the widget reconnects
 * with back-off, resends what was not acknowledged and fetches what it missed.
 * Every text from the resident or the assistant is rendered with textContent.
 */
(function () {
  "use strict";

  if (window.TiepDan && window.TiepDan.version) return; // embedded twice on one page

  var script =
    document.currentScript ||
    (function () {
      var all = document.querySelectorAll("script[src]");
      for (var i = all.length - 1; i >= 0; i--) {
        if (/\/widget\.js(\?|#|$)/.test(all[i].src)) return all[i];
      }
      return null;
    })();
  if (!script) return;

  var BASE = new URL(".", script.src).href; // where widget.js came from, with a final slash
  var WS_URL = BASE.replace(/^http/, "ws") + "widget/ws";
  var AVATAR = BASE + "static/widget/avatar.svg";
  var MAX_TEXT = 2000;
  var MAX_PHOTO = 10 * 1024 * 1024;
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var PHOTO_PATH = /^widget\/photos\/[0-9a-f]{32}\.(jpg|png|webp)$/;
  var SVG = "http://www.w3.org/2000/svg";

  var TEXT = {
    vi: {
      open: "Mở trò chuyện với Tiếp Dân",
      hide: "Thu nhỏ cửa sổ trò chuyện",
      close: "Đóng trò chuyện",
      subtitle: "Trợ lý tự động",
      subtitleExtra: "\u00a0· Trả lời ngay",
      offline: "Đang kết nối lại…",
      language: "Ngôn ngữ",
      log: "Tin nhắn",
      placeholder: "Nhập tin nhắn…",
      inputLabel: "Tin nhắn gửi Tiếp Dân",
      send: "Gửi",
      attach: "Gửi ảnh (JPG, PNG, WEBP, tối đa 10 MB)",
      sending: "Đang gửi…",
      sent: "Đã gửi",
      failed: "Chưa gửi được",
      retry: "Gửi lại",
      typing: "Tiếp Dân đang soạn tin…",
      today: "Hôm nay",
      yesterday: "Hôm qua",
      chips: "Gợi ý trả lời",
      photo: "Ảnh anh/chị đã gửi",
      image: "Hình ảnh từ Tiếp Dân",
      photoGone: "(Ảnh không còn được lưu)",
      unread: function (n) {
        return n + " tin nhắn mới";
      },
      announce: "Tiếp Dân: ",
      banner: "Mất kết nối. Tin nhắn của anh/chị sẽ được gửi khi có mạng trở lại.",
      teaser: "Dạ, anh/chị cần hỗ trợ thủ tục hay gửi phản ánh? Nhắn em nhé!",
      footnote: "Cần gặp người thật? Anh/chị nhắn “gặp nhân viên”.",
      welcome:
        "Dạ, em chào anh/chị! Em là Tiếp Dân, trợ lý tự động của UBND quận. " +
        "Em có thể hướng dẫn thủ tục, nhận phản ánh và tra cứu hồ sơ ạ.",
      starters: [
        ["Em giúp được gì?", "/ask_capabilities"],
        ["Gửi phản ánh", "/file_complaint"],
        ["Tra cứu hồ sơ", "/check_status"],
      ],
      errors: {
        not_an_image: "Dạ, em chỉ nhận ảnh dạng JPG, PNG hoặc WEBP ạ.",
        photo_too_large: "Dạ, ảnh lớn hơn 10 MB nên em chưa nhận được. Anh/chị gửi ảnh nhỏ hơn giúp em ạ.",
        text_too_long: "Dạ, tin nhắn dài quá 2.000 ký tự, anh/chị chia nhỏ giúp em ạ.",
        too_fast: "Dạ, anh/chị gửi hơi nhanh, đợi em một chút rồi gửi lại ạ.",
        not_answered: "Dạ, em xin lỗi, tin nhắn vừa rồi chưa được trả lời. Anh/chị gửi lại giúp em ạ.",
        upload_failed: "Dạ, em chưa tải được ảnh lên. Anh/chị kiểm tra kết nối rồi gửi lại giúp em ạ.",
        generic: "Dạ, em xin lỗi, đã có lỗi. Anh/chị thử lại giúp em ạ.",
      },
    },
    en: {
      open: "Chat with Tiếp Dân",
      hide: "Minimise the chat",
      close: "Close the chat",
      subtitle: "Automated assistant",
      subtitleExtra: "\u00a0· Replies instantly",
      offline: "Reconnecting…",
      language: "Language",
      log: "Messages",
      placeholder: "Type a message…",
      inputLabel: "Message to Tiếp Dân",
      send: "Send",
      attach: "Send a photo (JPG, PNG, WEBP, up to 10 MB)",
      sending: "Sending…",
      sent: "Sent",
      failed: "Not sent",
      retry: "Retry",
      typing: "Tiếp Dân is typing…",
      today: "Today",
      yesterday: "Yesterday",
      chips: "Suggested replies",
      photo: "Photo you sent",
      image: "Image from Tiếp Dân",
      photoGone: "(This photo is no longer kept)",
      unread: function (n) {
        return n === 1 ? "1 new message" : n + " new messages";
      },
      announce: "Tiếp Dân: ",
      banner: "Connection lost. Your messages will be sent when you are back online.",
      teaser: "Need help with a procedure or want to report a problem? Message me!",
      footnote: "Need a person? Type “talk to staff”.",
      welcome:
        "Hello! I'm Tiếp Dân, the district's automated assistant. I can explain procedures, " +
        "take your reports and check on your case.",
      starters: [
        ["What can you do?", "/ask_capabilities"],
        ["Report a problem", "/file_complaint"],
        ["Check a case", "/check_status"],
      ],
      errors: {
        not_an_image: "I can only take photos in JPG, PNG or WEBP format.",
        photo_too_large: "That photo is larger than 10 MB. Please send a smaller one.",
        text_too_long: "That message is longer than 2,000 characters; please split it.",
        too_fast: "You're sending messages very fast; please wait a moment and try again.",
        not_answered: "Sorry, your last message was not answered. Please send it again.",
        upload_failed: "The photo could not be uploaded. Please check your connection and try again.",
        generic: "Sorry, something went wrong. Please try again.",
      },
    },
  };

  // ---- storage (localStorage of the embedding site; memory when it is unavailable) ----

  var memory = {};
  var store = {
    get: function (key, fallback) {
      var raw;
      try {
        raw = window.localStorage.getItem("tiepdan." + key);
      } catch (e) {
        raw = memory[key];
      }
      if (raw === null || raw === undefined) return fallback;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set: function (key, value) {
      var raw = JSON.stringify(value);
      memory[key] = raw;
      try {
        window.localStorage.setItem("tiepdan." + key, raw);
      } catch (e) {
        /* storage full or disabled: memory keeps it for this page */
      }
    },
  };

  function uuid() {
    // crypto.randomUUID needs a secure context; intranet sites are often plain http.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join(
      "-"
    );
  }

  // ---- state ----

  var startLang = script.getAttribute("data-lang") === "en" ? "en" : "vi";
  var state = {
    lang: store.get("lang", startLang) === "en" ? "en" : "vi",
    session: store.get("session", null),
    pending: store.get("pending", []), // messages not yet acknowledged, oldest first
    lastRead: store.get("lastRead", 0),
    lastSeq: 0,
    unread: 0,
    open: false,
    socket: null,
    ready: false,
    everReady: false,
    attempt: 0,
    retryTimer: null,
    typing: false,
    waitingUploads: [],
  };
  if (!Array.isArray(state.pending)) state.pending = [];

  function t(key) {
    return TEXT[state.lang][key];
  }

  // ---- DOM helpers: elements and text nodes only, never HTML strings ----

  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        node.setAttribute(name, attrs[name]);
      });
    }
    return node;
  }

  function icon(shapes, className) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    if (className) svg.setAttribute("class", className);
    shapes.forEach(function (shape) {
      var node = document.createElementNS(SVG, shape[0]);
      Object.keys(shape[1]).forEach(function (name) {
        node.setAttribute(name, shape[1][name]);
      });
      svg.appendChild(node);
    });
    return svg;
  }

  var ICONS = {
    chat: [
      ["path", { d: "M6 3h12a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3h-7.5L5 22v-4.1A3 3 0 0 1 3 15V6a3 3 0 0 1 3-3z", fill: "currentColor" }],
      ["circle", { cx: "8", cy: "10.5", r: "1.4", fill: "#0068ff" }],
      ["circle", { cx: "12", cy: "10.5", r: "1.4", fill: "#0068ff" }],
      ["circle", { cx: "16", cy: "10.5", r: "1.4", fill: "#0068ff" }],
    ],
    down: [["path", { d: "M6 9l6 6 6-6", fill: "none", stroke: "currentColor", "stroke-width": "2.4", "stroke-linecap": "round", "stroke-linejoin": "round" }]],
    close: [["path", { d: "M6 6l12 12M18 6L6 18", fill: "none", stroke: "currentColor", "stroke-width": "2.2", "stroke-linecap": "round" }]],
    send: [["path", { d: "M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a1 1 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z", fill: "currentColor" }]],
    photo: [
      ["rect", { x: "3", y: "4", width: "18", height: "16", rx: "3", fill: "none", stroke: "currentColor", "stroke-width": "2" }],
      ["circle", { cx: "9", cy: "10", r: "1.8", fill: "currentColor" }],
      ["path", { d: "M4.5 18l5-5 3 3 3.5-4 3.5 4.5", fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linejoin": "round" }],
    ],
  };

  // ---- build the widget ----

  var host = el("div", null, { id: "tiepdan-widget", "data-tiepdan": "" });
  host.style.display = "none"; // until the stylesheet has loaded
  var shadow = host.attachShadow({ mode: "open" });
  var css = el("link", null, { rel: "stylesheet", href: BASE + "static/widget/widget.css" });
  css.addEventListener("load", function () {
    host.style.display = "";
  });
  shadow.appendChild(css);

  var root = el("div", "td");
  shadow.appendChild(root);

  var launcher = el("button", "td-launcher", {
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "td-panel",
  });
  var launcherIcon = icon(ICONS.chat);
  var launcherClose = icon(ICONS.down, "td-icon-close");
  launcherClose.style.display = "none";
  var badge = el("span", "td-badge", { "aria-hidden": "true" });
  badge.hidden = true;
  launcher.appendChild(launcherIcon);
  launcher.appendChild(launcherClose);
  launcher.appendChild(badge);

  var teaser = el("div", "td-teaser", { "aria-hidden": "true" });
  teaser.hidden = true;

  var panel = el("section", "td-panel", { id: "td-panel", role: "dialog", "aria-labelledby": "td-title" });
  panel.hidden = true;

  var header = el("header", "td-header");
  var headerAvatar = el("img", "td-avatar", { src: AVATAR, alt: "" });
  var heading = el("div", "td-heading");
  var title = el("h2", "td-title", { id: "td-title" });
  title.textContent = script.getAttribute("data-title") || "Tiếp Dân";
  var subtitle = el("p", "td-subtitle");
  var presence = el("span", "td-presence", { "aria-hidden": "true" });
  var subtitleText = el("span");
  var subtitleExtra = el("span", "td-subtitle-extra");
  subtitle.appendChild(presence);
  subtitle.appendChild(subtitleText);
  subtitle.appendChild(subtitleExtra);
  heading.appendChild(title);
  heading.appendChild(subtitle);
  var langGroup = el("div", "td-lang", { role: "group" });
  var langButtons = {};
  ["vi", "en"].forEach(function (code) {
    var button = el("button", null, { type: "button", lang: code, "data-lang": code });
    button.textContent = code.toUpperCase();
    button.setAttribute("aria-label", code === "vi" ? "Tiếng Việt" : "English");
    button.addEventListener("click", function () {
      setLanguage(code);
    });
    langButtons[code] = button;
    langGroup.appendChild(button);
  });
  var closeButton = el("button", "td-close", { type: "button" });
  closeButton.appendChild(icon(ICONS.close));
  header.appendChild(headerAvatar);
  header.appendChild(heading);
  header.appendChild(langGroup);
  header.appendChild(closeButton);

  var banner = el("div", "td-banner", { role: "status" });
  banner.hidden = true;

  var log = el("div", "td-log", { role: "log", "aria-live": "off", tabindex: "-1" });
  var typingRow = el("div", "td-typing");
  typingRow.hidden = true;
  var typingLabel = el("span", "sr-only");
  var dots = el("span", "td-dots", { "aria-hidden": "true" });
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  typingRow.appendChild(el("img", "td-avatar", { src: AVATAR, alt: "" }));
  typingRow.appendChild(dots);
  typingRow.appendChild(typingLabel);

  var composer = el("form", "td-composer", { novalidate: "" });
  var attachButton = el("button", "td-icon-button td-attach", { type: "button" });
  attachButton.appendChild(icon(ICONS.photo));
  var fileInput = el("input", null, {
    type: "file",
    accept: PHOTO_TYPES.join(","),
    tabindex: "-1",
    "aria-hidden": "true",
  });
  fileInput.hidden = true;
  var inputId = "td-input";
  var inputLabel = el("label", "sr-only", { for: inputId });
  var input = el("textarea", "td-input", { id: inputId, rows: "1", maxlength: String(MAX_TEXT), autocomplete: "off" });
  var sendButton = el("button", "td-icon-button td-send", { type: "submit" });
  sendButton.appendChild(icon(ICONS.send));
  sendButton.disabled = true;
  composer.appendChild(attachButton);
  composer.appendChild(fileInput);
  composer.appendChild(inputLabel);
  composer.appendChild(input);
  composer.appendChild(sendButton);
  var footnote = el("div", "td-footnote");

  // Announcements for screen readers: only new messages, never the restored history.
  var live = el("div", "sr-only", { "aria-live": "polite", "aria-atomic": "false" });

  panel.appendChild(header);
  panel.appendChild(banner);
  panel.appendChild(log);
  panel.appendChild(typingRow);
  panel.appendChild(composer);
  panel.appendChild(footnote);
  panel.appendChild(live);
  root.appendChild(panel);
  root.appendChild(teaser);
  root.appendChild(launcher);

  var welcome = null; // the local greeting at the top of the log

  // ---- language ----

  function applyLanguage() {
    root.setAttribute("lang", state.lang);
    launcher.setAttribute("aria-label", state.open ? t("hide") : t("open"));
    closeButton.setAttribute("aria-label", t("close"));
    setConnected(state.ready);
    langGroup.setAttribute("aria-label", t("language"));
    Object.keys(langButtons).forEach(function (code) {
      langButtons[code].setAttribute("aria-pressed", code === state.lang ? "true" : "false");
    });
    log.setAttribute("aria-label", t("log"));
    input.setAttribute("placeholder", t("placeholder"));
    inputLabel.textContent = t("inputLabel");
    sendButton.setAttribute("aria-label", t("send"));
    sendButton.title = t("send");
    attachButton.setAttribute("aria-label", t("attach"));
    attachButton.title = t("attach");
    typingLabel.textContent = t("typing");
    banner.textContent = t("banner");
    teaser.textContent = t("teaser");
    footnote.textContent = t("footnote");
    renderWelcome();
    updateBadge();
    Array.prototype.forEach.call(log.querySelectorAll(".td-state"), function (node) {
      var row = node.closest(".td-row");
      if (row) setRowState(row, row.getAttribute("data-state"));
    });
  }

  function setLanguage(code) {
    if (code !== "vi" && code !== "en") return;
    state.lang = code;
    store.set("lang", code);
    applyLanguage();
  }

  // ---- rendering ----

  function timeOf(iso) {
    var date = iso ? new Date(iso) : new Date();
    return isNaN(date.getTime()) ? new Date() : date;
  }

  function clock(date) {
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (date.toDateString() === today.toDateString()) return t("today");
    if (date.toDateString() === yesterday.toDateString()) return t("yesterday");
    return (
      ("0" + date.getDate()).slice(-2) + "/" + ("0" + (date.getMonth() + 1)).slice(-2) + "/" + date.getFullYear()
    );
  }

  function appendText(parent, text) {
    // Links become <a> elements built node by node; everything else stays plain text.
    var pattern = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text))) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var link = el("a", null, { href: match[0], target: "_blank", rel: "noopener noreferrer" });
      link.textContent = match[0];
      parent.appendChild(link);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function imageSource(image) {
    if (typeof image !== "string") return null;
    if (PHOTO_PATH.test(image)) return BASE + image;
    if (/^https?:\/\//.test(image) || /^blob:/.test(image)) return image;
    return null;
  }

  function buildRow(bubble) {
    var fromResident = bubble.author === "resident";
    var row = el("div", "td-row " + (fromResident ? "from-resident" : "from-assistant"));
    var date = timeOf(bubble.at);
    row.setAttribute("data-at", String(date.getTime()));
    row.setAttribute("data-author", bubble.author);
    if (bubble.seq) row.setAttribute("data-seq", String(bubble.seq));
    if (bubble.client_id) row.setAttribute("data-client-id", bubble.client_id);
    if (!fromResident) row.appendChild(el("img", "td-avatar", { src: AVATAR, alt: "" }));
    var stack = el("div", "td-stack");
    var body = el("div", "td-bubble");
    var source = imageSource(bubble.image);
    if (source) {
      body.classList.add("is-photo");
      var img = el("img", null, { src: source, alt: fromResident ? t("photo") : t("image"), loading: "lazy" });
      img.addEventListener("error", function () {
        var gone = el("span");
        gone.textContent = TEXT[state.lang].photoGone;
        img.replaceWith(gone);
      });
      img.addEventListener("load", function () {
        if (nearBottom()) scrollToEnd();
      });
      body.appendChild(img);
    }
    if (bubble.text) {
      var words = el("span", "td-text");
      appendText(words, bubble.text);
      body.appendChild(words);
    }
    var time = el("time", "td-time", { datetime: date.toISOString() });
    time.textContent = clock(date);
    body.appendChild(time);
    stack.appendChild(body);
    if (bubble.buttons && bubble.buttons.length) {
      var chips = el("div", "td-chips", { role: "group" });
      chips.setAttribute("aria-label", t("chips"));
      bubble.buttons.forEach(function (choice) {
        if (!choice || typeof choice.title !== "string") return;
        var chip = el("button", "td-chip", { type: "button" });
        chip.textContent = choice.title;
        chip.addEventListener("click", function () {
          send(choice.title, typeof choice.payload === "string" ? choice.payload : null);
          // The chips are hidden once answered: keep the focus in the conversation.
          input.focus();
        });
        chips.appendChild(chip);
      });
      row.appendChild(stack);
      row.chips = chips;
    } else {
      row.appendChild(stack);
    }
    return row;
  }

  function rows() {
    return Array.prototype.slice.call(log.querySelectorAll(".td-row"));
  }

  function placeRow(row, seq) {
    // In seq order; messages still waiting for the server stay at the end.
    var children = rows();
    var before = null;
    for (var i = 0; i < children.length; i++) {
      var other = children[i];
      var otherSeq = Number(other.getAttribute("data-seq") || 0);
      if (other === welcome) continue;
      if (!otherSeq || (seq && otherSeq > seq)) {
        before = other;
        break;
      }
    }
    if (!seq) before = null;
    log.insertBefore(row, before);
    if (row.chips) row.after(row.chips);
  }

  function relayout() {
    // Day separators, continued groups (same author within two minutes), chips of the
    // latest assistant turn only.
    Array.prototype.forEach.call(log.querySelectorAll(".td-day"), function (node) {
      node.remove();
    });
    var children = rows();
    var previous = null;
    var lastResident = -1;
    children.forEach(function (row, index) {
      var at = Number(row.getAttribute("data-at"));
      var date = new Date(at);
      if (row !== welcome && (!previous || new Date(Number(previous.getAttribute("data-at"))).toDateString() !== date.toDateString())) {
        var day = el("div", "td-day");
        day.textContent = dayLabel(date);
        log.insertBefore(day, row);
      }
      var continued =
        previous &&
        previous.getAttribute("data-author") === row.getAttribute("data-author") &&
        at - Number(previous.getAttribute("data-at")) < 120000 &&
        !previous.chips;
      row.classList.toggle("is-continued", !!continued);
      if (row.getAttribute("data-author") === "resident") lastResident = index;
      previous = row;
    });
    children.forEach(function (row, index) {
      if (row.chips) row.chips.hidden = index < lastResident;
    });
    if (welcome && welcome.chips) welcome.chips.hidden = lastResident >= 0 || children.length > 1;
  }

  // Whether the resident is reading the latest messages: new ones, a keyboard popping up or
  // a rotated phone then keep the end in view.
  var pinned = true;
  log.addEventListener("scroll", function () {
    pinned = nearBottom();
  });
  window.addEventListener("resize", function () {
    if (pinned) scrollToEnd();
  });

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    pinned = true;
  }

  function renderWelcome() {
    var fresh = buildRow({
      author: "assistant",
      text: t("welcome"),
      at: welcome ? new Date(Number(welcome.getAttribute("data-at"))).toISOString() : new Date().toISOString(),
      buttons: t("starters").map(function (pair) {
        return { title: pair[0], payload: pair[1] };
      }),
    });
    fresh.classList.add("is-welcome");
    // The greeting is the widget's own, not a message of the conversation: no time.
    fresh.querySelector(".td-time").remove();
    if (welcome) {
      if (welcome.chips) welcome.chips.remove();
      welcome.replaceWith(fresh);
    } else {
      log.insertBefore(fresh, log.firstChild);
    }
    if (fresh.chips) fresh.after(fresh.chips);
    welcome = fresh;
    relayout();
  }

  function findRow(attr, value) {
    var children = rows();
    for (var i = 0; i < children.length; i++) {
      if (children[i].getAttribute(attr) === value) return children[i];
    }
    return null;
  }

  function setRowState(row, status) {
    row.setAttribute("data-state", status);
    var stack = row.querySelector(".td-stack");
    var old = stack.querySelector(".td-state");
    if (old) old.remove();
    if (status === "sent") {
      // Only the resident's latest message says "Sent", like Zalo.
      Array.prototype.forEach.call(log.querySelectorAll('.td-row[data-state="sent"] .td-state'), function (n) {
        n.remove();
      });
    }
    var label = el("span", "td-state" + (status === "failed" ? " is-failed" : ""));
    label.textContent = status === "sending" ? t("sending") : status === "sent" ? t("sent") : t("failed");
    if (status === "failed" && row.retry) {
      var retry = el("button", "td-retry", { type: "button" });
      retry.textContent = t("retry");
      retry.addEventListener("click", row.retry);
      label.appendChild(retry);
    }
    stack.appendChild(label);
  }

  function clearSentLabels(except) {
    Array.prototype.forEach.call(log.querySelectorAll(".td-row[data-state=sent]"), function (row) {
      if (row === except) return;
      var label = row.querySelector(".td-state");
      if (label) label.remove();
      row.setAttribute("data-state", "done");
    });
  }

  function announce(text) {
    var line = el("p");
    line.textContent = text;
    live.appendChild(line);
    while (live.childNodes.length > 5) live.removeChild(live.firstChild);
  }

  function note(text) {
    var node = el("div", "td-note", { role: "alert" });
    node.textContent = text;
    log.appendChild(node);
    scrollToEnd();
  }

  // A bubble the server stored (history, a live reply, a notification, another tab's message).
  function showBubble(bubble, isLive) {
    if (!bubble || !bubble.seq) return;
    state.lastSeq = Math.max(state.lastSeq, bubble.seq);
    if (findRow("data-seq", String(bubble.seq))) return;
    var follow = nearBottom() || !state.open;
    if (bubble.client_id) {
      var mine = findRow("data-client-id", bubble.client_id);
      if (mine) {
        mine.setAttribute("data-seq", String(bubble.seq));
        if (mine.getAttribute("data-state") !== "sent" && mine.getAttribute("data-state") !== "done") {
          markAcknowledged(bubble.client_id, bubble.seq);
        }
        return;
      }
    }
    var row = buildRow(bubble);
    placeRow(row, bubble.seq);
    if (bubble.author === "resident" && isLive) {
      setRowState(row, "sent");
      clearSentLabels(row);
    }
    relayout();
    if (follow) scrollToEnd();
    if (bubble.author === "assistant") {
      if (isLive) announce(t("announce") + (bubble.text || t("image")));
      if (state.open && document.visibilityState !== "hidden") {
        markRead();
      } else if (bubble.seq > state.lastRead) {
        state.unread += 1;
        updateBadge();
      }
    }
  }

  function showPending(message) {
    var row = buildRow({
      author: "resident",
      client_id: message.id,
      text: message.text,
      image: message.preview,
      at: message.at,
    });
    row.messageData = message;
    row.retry = function () {
      retry(message.id);
    };
    placeRow(row, 0);
    setRowState(row, "sending");
    relayout();
    scrollToEnd();
    return row;
  }

  function markAcknowledged(clientId, seq) {
    state.pending = state.pending.filter(function (m) {
      return m.id !== clientId;
    });
    store.set("pending", state.pending);
    var row = findRow("data-client-id", clientId);
    if (!row) return;
    if (seq) {
      row.setAttribute("data-seq", String(seq));
      state.lastSeq = Math.max(state.lastSeq, seq);
      row.remove();
      if (row.chips) row.chips.remove();
      placeRow(row, seq);
    }
    setRowState(row, "sent");
    clearSentLabels(row);
    relayout();
  }

  function markFailed(clientId, text) {
    state.pending = state.pending.filter(function (m) {
      return m.id !== clientId;
    });
    store.set("pending", state.pending);
    var row = findRow("data-client-id", clientId);
    if (row) setRowState(row, "failed");
    if (text) note(text);
  }

  function setTyping(on) {
    state.typing = !!on;
    typingRow.hidden = !state.typing;
    if (state.typing && nearBottom()) scrollToEnd();
  }

  function updateBadge() {
    badge.hidden = state.unread <= 0;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    var label = state.open ? t("hide") : t("open");
    if (state.unread > 0 && !state.open) label += " (" + TEXT[state.lang].unread(state.unread) + ")";
    launcher.setAttribute("aria-label", label);
  }

  function markRead() {
    state.unread = 0;
    if (state.lastSeq > state.lastRead) {
      state.lastRead = state.lastSeq;
      store.set("lastRead", state.lastRead);
    }
    updateBadge();
  }

  // ---- connection ----

  function setConnected(ready) {
    state.ready = ready;
    presence.classList.toggle("is-offline", !ready && state.everReady);
    var online = ready || !state.everReady;
    subtitleText.textContent = online ? t("subtitle") : t("offline");
    subtitleExtra.textContent = online ? t("subtitleExtra") : "";
    banner.hidden = ready || !state.everReady;
  }

  function connect() {
    if (state.socket) return;
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    var socket;
    try {
      socket = new WebSocket(WS_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.addEventListener("open", function () {
      socket.send(
        JSON.stringify({ type: "hello", session: state.session, after: state.lastSeq, lang: state.lang })
      );
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame === "object") receive(frame);
    });
    socket.addEventListener("close", function () {
      if (state.socket !== socket) return;
      state.socket = null;
      setConnected(false);
      setTyping(false);
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.retryTimer) return;
    // 0.5 s, 1 s, 2 s … up to 15 s, with jitter so a restarted gateway is not stampeded.
    var delay = Math.min(15000, 500 * Math.pow(2, state.attempt)) * (0.75 + Math.random() * 0.5);
    state.attempt += 1;
    state.retryTimer = setTimeout(function () {
      state.retryTimer = null;
      connect();
    }, delay);
  }

  function reconnectNow() {
    if (state.socket || !state.session) return;
    state.attempt = 0;
    connect();
  }

  function transmit(message) {
    if (!state.ready || !state.socket) return;
    state.socket.send(
      JSON.stringify({
        type: "message",
        id: message.id,
        text: message.text,
        payload: message.payload || undefined,
        lang: message.lang,
      })
    );
  }

  function receive(frame) {
    switch (frame.type) {
      case "welcome":
        state.session = frame.session;
        store.set("session", frame.session);
        state.attempt = 0;
        state.everReady = true;
        setConnected(true);
        (frame.history || []).forEach(function (bubble) {
          showBubble(bubble, false);
        });
        setTyping(frame.typing);
        if (state.open) markRead();
        state.pending.forEach(transmit);
        flushUploads();
        break;
      case "ack":
        markAcknowledged(frame.id, frame.seq);
        break;
      case "message":
        showBubble(frame.bubble, true);
        break;
      case "typing":
        setTyping(frame.on);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break;
    }
  }

  function onError(frame) {
    var errors = TEXT[state.lang].errors;
    var pending = state.pending.some(function (m) {
      return m.id === frame.id;
    });
    if (frame.id && pending) {
      markFailed(frame.id, errors[frame.code] || errors.generic);
    } else if (frame.code === "not_answered") {
      note(errors.not_answered);
    }
  }

  // ---- sending ----

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      note(TEXT[state.lang].errors.text_too_long);
      return;
    }
    var message = {
      id: uuid(),
      text: text,
      payload: payload || null,
      lang: state.lang,
      at: new Date().toISOString(),
    };
    state.pending.push(message);
    store.set("pending", state.pending);
    showPending(message);
    if (!state.socket) connect();
    transmit(message);
  }

  function retry(clientId) {
    var row = findRow("data-client-id", clientId);
    if (!row || !row.messageData) return;
    var message = row.messageData;
    state.pending.push(message);
    store.set("pending", state.pending);
    setRowState(row, "sending");
    transmit(message);
  }

  function sendPhoto(file) {
    var errors = TEXT[state.lang].errors;
    if (PHOTO_TYPES.indexOf(file.type) < 0) {
      note(errors.not_an_image);
      return;
    }
    if (file.size > MAX_PHOTO) {
      note(errors.photo_too_large);
      return;
    }
    var upload = { id: uuid(), file: file, lang: state.lang, at: new Date().toISOString() };
    upload.preview = URL.createObjectURL(file);
    var row = showPending(upload);
    row.retry = function () {
      setRowState(row, "sending");
      state.waitingUploads.push(upload);
      flushUploads();
    };
    state.waitingUploads.push(upload);
    if (!state.socket) connect();
    flushUploads();
  }

  function flushUploads() {
    if (!state.session || !state.ready) return;
    var uploads = state.waitingUploads;
    state.waitingUploads = [];
    uploads.forEach(function (upload) {
      var form = new FormData();
      form.append("photo", upload.file, upload.file.name || "photo");
      fetch(BASE + "widget/photos", {
        method: "POST",
        body: form,
        mode: "cors",
        credentials: "omit",
        headers: { "X-Widget-Session": state.session, "X-Client-Id": upload.id, "X-Widget-Lang": upload.lang },
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          var row = findRow("data-client-id", upload.id);
          if (result.ok) {
            if (row && result.body.seq) markAcknowledged(upload.id, result.body.seq);
            if (row) showStoredPhoto(row, result.body.image, upload.preview);
            return;
          }
          var code = result.body && result.body.error && result.body.error.code;
          if (row) {
            row.retry = null;
            setRowState(row, "failed");
          }
          note(errorsFor(upload.lang)[code] || errorsFor(upload.lang).upload_failed);
        })
        .catch(function () {
          var row = findRow("data-client-id", upload.id);
          if (row) setRowState(row, "failed");
          note(errorsFor(upload.lang).upload_failed);
        });
    });
  }

  function showStoredPhoto(row, image, preview) {
    // Swap the local preview for the stored photo once it has loaded, then free the preview.
    var source = imageSource(image);
    var shown = row.querySelector(".td-bubble img");
    if (!source || !shown) return;
    var stored = new Image();
    stored.addEventListener("load", function () {
      shown.src = source;
      URL.revokeObjectURL(preview);
    });
    stored.src = source;
  }

  function errorsFor(lang) {
    return TEXT[lang === "en" ? "en" : "vi"].errors;
  }

  // ---- open / close ----

  function open() {
    if (state.open) return;
    state.open = true;
    store.set("teased", true);
    root.classList.add("is-open");
    panel.hidden = false;
    teaser.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    panel.setAttribute("aria-modal", phone.matches ? "true" : "false");
    launcherIcon.style.display = "none";
    launcherClose.style.display = "";
    if (!state.socket) connect();
    markRead();
    scrollToEnd();
    input.focus();
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    root.classList.remove("is-open");
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcherIcon.style.display = "";
    launcherClose.style.display = "none";
    updateBadge();
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) close();
    else open();
  });
  closeButton.addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && state.open) {
      event.preventDefault();
      close();
    }
  });

  // On a phone the panel covers the page: it behaves as a modal dialog and keeps the focus.
  var phone = window.matchMedia("(max-width: 480px)");
  panel.addEventListener("keydown", function (event) {
    if (event.key !== "Tab" || !phone.matches) return;
    var focusable = Array.prototype.filter.call(
      panel.querySelectorAll("button, textarea, a[href]"),
      function (node) {
        return !node.disabled && node.getClientRects().length > 0;
      }
    );
    if (!focusable.length) return;
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    if (event.shiftKey && shadow.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && shadow.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    autosize();
    send(text, null);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    // Vietnamese is often typed through an input method (Telex, VNI): Enter may only
    // confirm a composition.
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit ? composer.requestSubmit() : composer.dispatchEvent(new Event("submit"));
    }
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
    sendButton.disabled = !input.value.trim();
  }
  input.addEventListener("input", autosize);

  attachButton.addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) sendPhoto(file);
    input.focus();
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      reconnectNow();
      if (state.open) markRead();
    }
  });
  window.addEventListener("online", reconnectNow);

  // ---- start ----

  applyLanguage();
  state.pending.forEach(showPending);
  // A first-time visitor sees a short invitation beside the bubble (pointer only: the
  // bubble's own label says the same to assistive technology).
  teaser.hidden = !!(state.session || store.get("teased", false));
  teaser.addEventListener("click", open);
  document.body.appendChild(host);
  if (state.session || state.pending.length) connect();

  window.TiepDan = {
    version: "1",
    open: open,
    close: close,
    setLanguage: setLanguage,
  };
})();
