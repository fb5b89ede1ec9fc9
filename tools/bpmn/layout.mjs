#!/usr/bin/env node
// (Re)generate the diagram (BPMN DI) of BPMN files in place:  node tools/bpmn/layout.mjs FILE.bpmn [...]
//
// The layout comes from bpmn-auto-layout, but its output is NOT written as it is: the tool re-serialises the
// whole document (dropping comments, reformatting, and it may lose extension attributes the engines read). So
// the original text is kept and only edited:
//   1. the old <bpmndi:BPMNDiagram> blocks and <bpmn:incoming>/<bpmn:outgoing> references are removed;
//   2. every flow node gets its <bpmn:incoming>/<bpmn:outgoing> references, computed from the sequence flows
//      (modelers and bpmnlint read a node without them as an implicit start or end);
//   3. the BPMNDiagram block of the tool's output is appended before </bpmn:definitions>, with the DI
//      namespaces declared on the root element.
// Then the semantic part is checked unchanged: every element and attribute outside the diagram and the
// incoming/outgoing references, compared before and after through bpmn-moddle. A difference aborts, nothing
// is written. After a layout, move shapes in a modeler if you like: the file keeps what the modeler writes.
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

import { BpmnModdle } from 'bpmn-moddle';
import { layoutProcess } from 'bpmn-auto-layout';

const NAMESPACES = {
  bpmndi: 'http://www.omg.org/spec/BPMN/20100524/DI',
  dc: 'http://www.omg.org/spec/DD/20100524/DC',
  di: 'http://www.omg.org/spec/DD/20100524/DI',
};
const NOT_FLOW_NODES = new Set(['bpmn:SequenceFlow', 'bpmn:LaneSet', 'bpmn:TextAnnotation', 'bpmn:Association',
  'bpmn:DataObject', 'bpmn:DataObjectReference', 'bpmn:DataStoreReference']);
// a start tag with its attributes (values never hold a double quote in these files: XML escapes it)
const START_TAG = /<bpmn:(\w+)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g;

function stripDerived(text) {
  return text
    .replace(/\n?[ \t]*<bpmndi:BPMNDiagram\b[\s\S]*?<\/bpmndi:BPMNDiagram>/g, '')
    .replace(/\n?[ \t]*<bpmn:(incoming|outgoing)>[^<]*<\/bpmn:\1>/g, '')
    // an element left with nothing inside closes itself again, as it was written
    .replace(/<bpmn:(\w+)((?:\s+[\w:.-]+="[^"]*")*)\s*>\s*<\/bpmn:\1>/g, '<bpmn:$1$2 />');
}

async function parse(text) {
  const { rootElement, warnings } = await new BpmnModdle().fromXML(text);
  const serious = warnings.filter((w) => !/unparsable content/.test(w.message));
  if (serious.length) throw new Error(serious.map((w) => w.message).join('\n'));
  return rootElement;
}

function flowNodes(definitions) {
  const nodes = new Map(); // id -> {incoming: [], outgoing: []}
  const flows = [];
  for (const root of definitions.rootElements) {
    if (root.$type !== 'bpmn:Process') continue;
    for (const el of root.flowElements || []) {
      if (el.$type === 'bpmn:SequenceFlow') flows.push(el);
      else if (!NOT_FLOW_NODES.has(el.$type)) nodes.set(el.id, { incoming: [], outgoing: [] });
    }
  }
  for (const flow of flows) {
    nodes.get(flow.sourceRef.id)?.outgoing.push(flow.id);
    nodes.get(flow.targetRef.id)?.incoming.push(flow.id);
  }
  return nodes;
}

// what the schema puts before incoming/outgoing inside a flow node (tBaseElement's children)
const LEADING_CHILDREN = /^(?:\s*<bpmn:documentation\b[\s\S]*?<\/bpmn:documentation>|\s*<bpmn:extensionElements\b[\s\S]*?<\/bpmn:extensionElements>|\s*<bpmn:extensionElements\s*\/>)*/;

function addReferences(text, nodes) {
  const inserts = []; // [position, text], applied from the end
  for (const match of text.matchAll(START_TAG)) {
    const [tag, kind, attrs, selfClosing] = match;
    const id = /\sid="([^"]*)"/.exec(attrs)?.[1];
    const refs = id && nodes.get(id);
    if (!refs || (!refs.incoming.length && !refs.outgoing.length)) continue;
    const lineStart = text.lastIndexOf('\n', match.index) + 1;
    const indent = /^[ \t]*/.exec(text.slice(lineStart))[0];
    const inner = `${indent}  `;
    const children = [
      ...refs.incoming.map((f) => `\n${inner}<bpmn:incoming>${f}</bpmn:incoming>`),
      ...refs.outgoing.map((f) => `\n${inner}<bpmn:outgoing>${f}</bpmn:outgoing>`),
    ].join('');
    const end = match.index + tag.length;
    if (selfClosing) {
      inserts.push([match.index, tag.length, `<bpmn:${kind}${attrs}>${children}\n${indent}</bpmn:${kind}>`]);
    } else {
      const leading = LEADING_CHILDREN.exec(text.slice(end))[0].length;
      inserts.push([end + leading, 0, children]);
    }
  }
  let out = text;
  for (const [at, length, insert] of inserts.reverse()) out = out.slice(0, at) + insert + out.slice(at + length);
  return out;
}

function declareNamespaces(text) {
  return text.replace(/<bpmn:definitions\b[^>]*>/, (tag) => {
    let out = tag;
    for (const [prefix, uri] of Object.entries(NAMESPACES)) {
      if (out.includes(`xmlns:${prefix}=`)) continue;
      const indent = /\n([ \t]*)xmlns:/.exec(out)?.[1] ?? ' ';
      out = out.replace(/(xmlns:bpmn="[^"]*")/, `$1\n${indent}xmlns:${prefix}="${uri}"`);
    }
    return out;
  });
}

// everything but the diagram and the derived references, in a canonical form
function semantics(element, seen = new Set()) {
  if (element === null || typeof element !== 'object') return element;
  if (Array.isArray(element)) return element.map((e) => semantics(e, seen));
  if (element.$type && element.id && seen.has(element)) return { ref: element.id };
  if (element.$type) seen.add(element);
  const out = {};
  for (const key of Object.keys(element).sort()) {
    if (['$parent', 'incoming', 'outgoing', 'diagrams', '$model', '$descriptor'].includes(key)) continue;
    const value = element[key];
    if (value && typeof value === 'object' && value.$type && value.id && key !== 'eventDefinitions') {
      out[key] = { ref: value.id };
    } else if (key === '$attrs') {
      // the diagram's namespace declarations are added; every other attribute stays as it was
      out[key] = Object.fromEntries(
        Object.entries(value).filter(([name]) => !['xmlns:bpmndi', 'xmlns:dc', 'xmlns:di'].includes(name)),
      );
    } else {
      out[key] = semantics(value, seen);
    }
  }
  if (element.$type) out.$type = element.$type;
  return out;
}

// the tool's block, re-indented one level under <bpmn:definitions>
function indented(diagram) {
  const base = /\n([ \t]*)<\/bpmndi:BPMNDiagram>$/.exec(diagram)?.[1] ?? '';
  return diagram
    .split('\n')
    .map((line, i) => `  ${i && line.startsWith(base) ? line.slice(base.length) : line}`)
    .join('\n');
}

async function layout(file) {
  const original = readFileSync(file, 'utf8');
  const bare = stripDerived(original);
  const nodes = flowNodes(await parse(bare));
  let text = declareNamespaces(addReferences(bare, nodes));
  // the tool draws edges from the nodes' incoming/outgoing references: lay out the referenced text
  const laidOut = await layoutProcess(text);
  const diagrams = laidOut.match(/<bpmndi:BPMNDiagram\b[\s\S]*?<\/bpmndi:BPMNDiagram>/g);
  if (!diagrams) throw new Error(`${file}: bpmn-auto-layout produced no BPMNDiagram`);
  const block = diagrams.map(indented).join('\n');
  text = text.replace(/\n?<\/bpmn:definitions>\s*$/, `\n${block}\n</bpmn:definitions>\n`);

  const before = JSON.stringify(semantics(await parse(original)));
  const after = JSON.stringify(semantics(await parse(text)));
  if (before !== after) throw new Error(`${file}: the process changed beyond its diagram; nothing written`);
  const missing = [...nodes.keys()].filter((id) => !text.includes(`bpmnElement="${id}"`));
  if (missing.length) throw new Error(`${file}: no shape for ${missing.join(', ')}; nothing written`);
  if (text !== original) writeFileSync(file, text);
  return text !== original;
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node tools/bpmn/layout.mjs FILE.bpmn [...]');
  process.exit(2);
}
let failed = false;
for (const file of files) {
  try {
    console.log(`${file}: ${(await layout(file)) ? 'diagram written' : 'unchanged'}`);
  } catch (error) {
    console.error(String(error.message || error));
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
