// Live sales feed: listens on /ws/orders/ and lists each `sale.recorded` event as it arrives.
(function () {
  "use strict";
  const feed = document.querySelector("[data-testid=live-feed]");
  const status = document.querySelector("[data-testid=live-status]");
  if (!feed || !status) return;
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const url = scheme + "//" + window.location.host + feed.dataset.wsPath;
  let delay = 1000;

  function connect() {
    const socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      delay = 1000;
      status.textContent = "live";
      status.classList.add("online");
    });
    socket.addEventListener("message", function (event) {
      const data = JSON.parse(event.data);
      if (data.type !== "sale.recorded") return;
      const item = document.createElement("li");
      item.dataset.testid = "live-sale";
      item.dataset.saleId = String(data.sale_id);
      const link = document.createElement("a");
      link.href = "/sales/" + data.sale_id + "/";
      link.textContent = "Sale #" + data.sale_id;
      item.append(link, " · " + data.total + " · " + data.payment);
      feed.prepend(item);
    });
    socket.addEventListener("close", function () {
      status.textContent = "offline";
      status.classList.remove("online");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }
  connect();
})();
