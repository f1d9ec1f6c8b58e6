// The conversation page: when the last message awaits a reply, the list has
// data-reply (the reply stream's URL, a Server-Sent Events endpoint under the
// conversation's bound id). Each `data:` event is one token, appended as it
// arrives; `event: done` carries the whole reply and ends the stream.
"use strict";

(() => {
  const list = document.getElementById("messages");
  const url = list?.dataset.reply;
  if (!url) return;
  const status = document.getElementById("reply-status");
  const send = document.querySelector("#send button");

  const item = document.createElement("li");
  item.className = "msg msg-assistant";
  item.dataset.state = "streaming";
  const who = document.createElement("p");
  who.className = "msg-who";
  who.textContent = "Assistant";
  const text = document.createElement("p");
  text.className = "msg-text";
  text.id = "streaming-reply";
  item.append(who, text);
  list.append(item);
  list.setAttribute("aria-busy", "true");
  send.disabled = true;
  status.textContent = "The assistant is replying…";

  const finish = (state, message) => {
    item.dataset.state = state;
    list.removeAttribute("aria-busy");
    send.disabled = false;
    status.textContent = message;
  };

  const stream = new EventSource(url);
  stream.onmessage = (event) => {
    text.textContent += JSON.parse(event.data);
  };
  stream.addEventListener("done", (event) => {
    stream.close();
    text.textContent = JSON.parse(event.data);
    finish("done", "Reply complete.");
  });
  stream.onerror = () => {
    if (item.dataset.state !== "streaming") return;
    stream.close();
    finish("failed", "The reply stream stopped. Reload the page to see what was saved.");
  };
})();
