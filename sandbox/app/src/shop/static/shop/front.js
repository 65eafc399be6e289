// Front page: greet by the time of day (the page itself is static HTML served by the frontend).
(function () {
  "use strict";
  const greeting = document.querySelector("[data-testid=greeting]");
  if (!greeting) return;
  const hour = new Date().getHours();
  greeting.textContent = hour < 12 ? "Good morning." : hour < 18 ? "Good afternoon." : "Good evening.";
})();
