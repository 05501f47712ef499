// Minimal chat page: posts each message to /web/message and shows the replies as text.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const lang = document.getElementById("lang");
  const busy = { vi: "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ạ.", en: "Sorry, the system is busy; please try again shortly." };

  function add(text, who, buttons) {
    const item = document.createElement("li");
    item.className = who;
    item.textContent = text;  // never innerHTML: replies are shown as text
    if (buttons && buttons.length) {
      const chips = document.createElement("div");
      chips.className = "chips";
      buttons.forEach(function (b) {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.textContent = b.title;
        chip.addEventListener("click", function () { send(b.payload, b.title); });
        chips.appendChild(chip);
      });
      item.appendChild(chips);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  async function send(text, shown) {
    add(shown || text, "me");
    try {
      const response = await fetch("/web/message", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: text, lang: lang.value }),
        credentials: "same-origin",
      });
      const body = await response.json();
      (body.messages || []).forEach(function (m) { add(m.text, "bot", m.buttons); });
      if (body.error) add(body.error.message, "bot");
    } catch (e) {
      add(busy[lang.value] || busy.vi, "bot");
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
})();
