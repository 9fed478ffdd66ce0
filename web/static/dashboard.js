/* Draws the dashboard's charts with Apache ECharts (bundled in vendor/echarts by `npm run
   build`).  Each chart's numbers are also in the table beside it; a click on a bar opens
   the list of cases behind it. */
(function () {
  "use strict";
  if (!window.echarts) { return; }
  document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    var horizontal = spec.type === "hbar";
    var category = { type: "category", data: spec.categories, axisLabel: { width: horizontal ? 110 : 80, overflow: "truncate" } };
    var value = { type: "value", name: spec.unit || "" };
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: horizontal ? 120 : 40, right: 16, top: 40, bottom: 30 },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign(category, { inverse: true }) : value,
      series: spec.series.map(function (s) { return { name: s.name, type: "bar", data: s.data }; })
    });
    chart.on("click", function (params) {
      var s = spec.series[params.seriesIndex];
      if (s && s.links && s.links[params.dataIndex]) { window.location.href = s.links[params.dataIndex]; }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
