// Parses and compiles Mermaid charts with the real mermaid package, one per line.
//
// stdin: one JSON string per line (a chart's text, without the ``` fence).
// stdout: one JSON object per line, in the same order:
//   {ok: false, error}                       when mermaid rejects it, or
//   {ok: true, type, title, ...}             with what the diagram was compiled to:
//     gantt:   dateFormat, axisFormat, todayMarker, sections,
//              tasks [{name, section, start, end, tags}] (start/end in epoch ms)
//     xychart: xAxis (labels), yAxis (title), yRange ([min, max]), plots [{type, data}]
//
// mermaid.parse() only runs the grammar; a gantt's dates are checked when its tasks are
// compiled (getTasks, as the renderer does), so an unparsable date passes parse() and
// fails on GitHub. Compiling here is what makes this check worth having.
// One process serves many charts so a property test can send hundreds cheaply.

import { createInterface } from 'node:readline';
import { JSDOM } from 'jsdom';

// mermaid sanitizes titles with DOMPurify, which needs a window when it is imported.
const { window } = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import('mermaid');

// What mermaid.render() does before parsing: it draws an error for longer texts.
const MAX_TEXT = 50000;

function millis(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new Error(`invalid task date: ${String(date)}`);
  }
  return date.getTime();
}

function gantt(db) {
  const tasks = db.getTasks().map((task) => ({
    name: task.task,
    section: task.section,
    start: millis(task.startTime),
    end: millis(task.renderEndTime || task.endTime),
    tags: ['active', 'done', 'crit', 'milestone', 'vert'].filter((tag) => task[tag]),
  }));
  return {
    title: db.getDiagramTitle(),
    dateFormat: db.getDateFormat(),
    axisFormat: db.getAxisFormat(),
    todayMarker: db.getTodayMarker(),
    sections: db.getSections(),
    tasks,
  };
}

function xychart(db) {
  const data = db.getXYChartData();
  return {
    title: db.getDiagramTitle(),
    xAxis: data.xAxis.categories ?? null,
    yAxis: data.yAxis.title,
    yRange: data.yAxis.type === 'linear' ? [data.yAxis.min, data.yAxis.max] : null,
    plots: data.plots.map((plot) => ({ type: plot.type, data: plot.data.map((p) => p[1]) })),
  };
}

async function check(text) {
  if (text.length > MAX_TEXT) {
    return { ok: false, error: `Maximum text size in diagram exceeded (${text.length})` };
  }
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const type = diagram.type;
    if (type === 'gantt') return { ok: true, type, ...gantt(diagram.db) };
    if (type === 'xychart') return { ok: true, type, ...xychart(diagram.db) };
    return { ok: true, type };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  }
}

mermaid.initialize({ startOnLoad: false });
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim()) process.stdout.write(`${JSON.stringify(await check(JSON.parse(line)))}\n`);
}
