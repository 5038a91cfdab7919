import assert from 'node:assert/strict';
import { renderLabelTemplate } from './template.js';

describe('renderLabelTemplate', () => {
  const values = { nodeName: 'node-1', app: 'ratings', 'app.kubernetes.io/name': 'redis' };
  const cases: Array<{ name: string; input: string; want: string }> = [
    { name: 'plain text is unchanged', input: 'node-1', want: 'node-1' },
    { name: 'field', input: '{{.nodeName}}', want: 'node-1' },
    { name: 'field with blanks', input: '{{ .nodeName }}', want: 'node-1' },
    { name: 'text around fields', input: 'on-{{.nodeName}}-for-{{.app}}', want: 'on-node-1-for-ratings' },
    { name: 'missing key prints <no value>', input: '{{.podName}}', want: '<no value>' },
    {
      name: 'index with a key that is not an identifier',
      input: '{{index . "app.kubernetes.io/name"}}',
      want: 'redis',
    },
    { name: 'index with a raw string', input: '{{ index . `app` }}', want: 'ratings' },
    { name: 'index of a missing key prints nothing', input: '{{index . "podName"}}', want: '' },
    {
      name: 'dot prints the map sorted',
      input: '{{.}}',
      want: 'map[app:ratings app.kubernetes.io/name:redis nodeName:node-1]',
    },
    { name: 'comment prints nothing', input: 'a{{/* why */}}b', want: 'ab' },
    { name: 'trim markers', input: 'a  {{- .app -}}  b', want: 'aratingsb' },
    { name: 'minus without a blank is not a trim marker', input: '{{-3}}', want: '{{-3}}' },
    { name: 'unclosed action leaves the text', input: '{{.nodeName', want: '{{.nodeName' },
    { name: 'pipelines are not evaluated', input: '{{.app | printf "%s"}}', want: '{{.app | printf "%s"}}' },
    { name: 'chained fields are not evaluated', input: '{{.app.name}}', want: '{{.app.name}}' },
    { name: 'empty action leaves the text', input: 'x{{}}', want: 'x{{}}' },
    { name: 'closing braces alone are text', input: 'a}}b', want: 'a}}b' },
    { name: 'prototype keys are not labels', input: '{{.constructor}}', want: '<no value>' },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.equal(renderLabelTemplate(input, values), want);
    });
  }
});
