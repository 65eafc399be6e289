// Allure Report 3 configuration for the gonogo release gate (./run demo renders with it).
// Checks are grouped by phase (epic), subject (feature) and check (story).
export default {
  name: "gonogo release gate",
  output: "./allure-report",
  plugins: {
    awesome: {
      options: {
        reportName: "gonogo release gate",
        groupBy: ["epic", "feature", "story"],
      },
    },
  },
};
