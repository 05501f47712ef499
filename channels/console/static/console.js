// The console's only script: refreshes the queue and runs the live conversation. Resident
// text is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.dataset.csrf;
  var lang = body.dataset.lang === "en" ? "en" : "vi";
  function tr(vi, en) { return lang === "en" ? en : vi; }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function acceptForm(id) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/console/handoffs/" + id + "/accept";
    form.className = "inline";
    var token = document.createElement("input");
    token.type = "hidden"; token.name = "csrf"; token.value = csrf;
    var button = document.createElement("button");
    button.type = "submit"; button.className = "accept"; button.textContent = tr("Nhận", "Accept");
    form.appendChild(token); form.appendChild(button);
    return form;
  }

  function viewLink(id, text) {
    var a = document.createElement("a");
    a.href = "/console/handoffs/" + id;
    a.textContent = text;
    return a;
  }

  function renderQueue(data) {
    var waiting = document.querySelector("#waiting tbody");
    var active = document.querySelector("#active tbody");
    if (!waiting || !active) return;
    waiting.replaceChildren();
    data.waiting.forEach(function (h, i) {
      var row = document.createElement("tr");
      row.dataset.id = h.id;
      cell(row, String(i + 1)); cell(row, h.sender_id); cell(row, h.channel); cell(row, h.language);
      cell(row, h.wait_minutes + " " + tr("phút", "min"));
      var actions = cell(row, "");
      actions.appendChild(acceptForm(h.id));
      actions.appendChild(viewLink(h.id, tr("Xem", "View")));
      waiting.appendChild(row);
    });
    if (!data.waiting.length) {
      var empty = document.createElement("tr"); empty.className = "empty";
      cell(empty, tr("Không có ai đang chờ.", "No one is waiting.")).colSpan = 6;
      waiting.appendChild(empty);
    }
    active.replaceChildren();
    data.active.forEach(function (h) {
      var row = document.createElement("tr");
      cell(row, h.sender_id); cell(row, h.channel); cell(row, h.language); cell(row, h.agent || "");
      cell(row, "").appendChild(viewLink(h.id, tr("Mở", "Open")));
      active.appendChild(row);
    });
  }

  function refreshQueue() {
    fetch("/console/queue.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) renderQueue(data); })
      .catch(function () {});
  }

  function addLine(message) {
    var list = document.getElementById("transcript");
    if (!list) return;
    var li = document.createElement("li");
    li.className = "line " + message.author;
    li.dataset.id = message.id;
    var author = document.createElement("span");
    author.className = "author"; author.textContent = authorName(message.author);
    var text = document.createElement("span");
    text.className = "text"; text.textContent = message.text;
    li.appendChild(author); li.appendChild(document.createTextNode(" ")); li.appendChild(text);
    list.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  var SYSTEM = {
    closed_by_staff: ["Nhân viên đã kết thúc trò chuyện.", "Staff closed the conversation."],
    idle: ["Trò chuyện tự kết thúc vì im lặng lâu.", "Closed after a long silence."],
    resident_cancelled: ["Người dân đã thôi chờ.", "The resident stopped waiting."],
    requeued: ["Nhân viên rời đi; trò chuyện trở lại hàng chờ.", "The agent left; back in the queue."]
  };
  var AUTHORS = {
    resident: ["Người dân", "Resident"], agent: ["Nhân viên", "Staff"], system: ["Hệ thống", "System"]
  };
  function authorName(author) {
    var known = AUTHORS[author];
    return known ? tr(known[0], known[1]) : author;
  }
  function systemText(code) {
    var known = SYSTEM[code];
    return known ? tr(known[0], known[1]) : code;
  }

  var socket = null;
  var delay = 1000;
  function connect() {
    var watch = body.dataset.handoff ? Number(body.dataset.handoff) : null;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/console/ws");
    var status = document.getElementById("live-status");
    socket.onopen = function () {
      delay = 1000;
      socket.send(JSON.stringify({ type: "hello", csrf: csrf, watch: watch }));
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "ready" && status) status.textContent = tr("Đã kết nối.", "Connected.");
      if (frame.type === "message") {
        if (frame.message.author === "system") {
          frame.message.text = systemText(frame.message.text);
          var reply = document.getElementById("reply");
          if (reply) reply.hidden = true;
        }
        addLine(frame.message);
      }
      if (frame.type === "queue" && body.dataset.page === "queue") refreshQueue();
      if (frame.type === "error" && status) status.textContent = tr("Lỗi: ", "Error: ") + frame.error;
    };
    socket.onclose = function () {
      if (status) status.textContent = tr("Mất kết nối, đang nối lại…", "Disconnected, reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function setUpReply() {
    var form = document.getElementById("reply");
    if (!form) return;
    var box = document.getElementById("reply-text");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = box.value.trim();
      if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: "reply", handoff_id: Number(body.dataset.handoff), text: text }));
      box.value = "";
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
  }

  if (body.dataset.page === "queue" || body.dataset.page === "conversation") {
    connect();
    setUpReply();
    if (body.dataset.page === "queue") setInterval(refreshQueue, 3000);
  }
})();
