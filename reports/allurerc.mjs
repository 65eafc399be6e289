// Allure Report 3 configuration for the gonogo release gate (./run demo renders with it).
export default {
  name: "gonogo release gate",
  output: "./allure-report",
};
