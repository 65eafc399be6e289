"""The browser smoke flows (Playwright, Debian's Chromium) and their page objects."""
