import assert from 'node:assert/strict';
import type { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { matchNseTemplate, matchNsTemplate } from './match-template.js';

describe('matchNsTemplate', () => {
  const stored: NetworkService = {
    name: 'ns-1',
    payload: 'IP',
    matches: [
      {
        sourceSelector: { app: 'firewall' },
        routes: [{ destinationSelector: { app: 'middle' }, weight: 0 }],
        fallthrough: false,
        metadata: undefined,
      },
    ],
    pathIds: ['p1'],
  };
  const cases: Array<{ name: string; input: Partial<NetworkService>; want: boolean }> = [
    { name: 'empty template', input: {}, want: true },
    { name: 'the entry itself', input: stored, want: true },
    { name: 'same name', input: { name: 'ns-1' }, want: true },
    { name: 'a substring of the name is not enough', input: { name: 'ns' }, want: false },
    { name: 'other name', input: { name: 'ns-2' }, want: false },
    { name: 'same payload', input: { payload: 'IP' }, want: true },
    { name: 'other payload', input: { payload: 'ETHERNET' }, want: false },
    { name: 'equal matches', input: { matches: structuredClone(stored.matches) }, want: true },
    {
      name: 'different source selector',
      input: { matches: [{ ...stored.matches[0]!, sourceSelector: { app: 'vpn' } }] },
      want: false,
    },
    {
      name: 'different fallthrough',
      input: { matches: [{ ...stored.matches[0]!, fallthrough: true }] },
      want: false,
    },
    {
      name: 'set but empty metadata differs from unset (proto.Equal)',
      input: { matches: [{ ...stored.matches[0]!, metadata: { labels: {} } }] },
      want: false,
    },
    { name: 'extra match', input: { matches: [stored.matches[0]!, stored.matches[0]!] }, want: false },
    { name: 'path ids ignored', input: { pathIds: ['other'] }, want: true },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.equal(matchNsTemplate(input, stored), want);
    });
  }
});

describe('matchNseTemplate', () => {
  const stored: NetworkServiceEndpoint = {
    name: 'nse-1',
    networkServiceNames: ['service-1', 'service-2'],
    networkServiceLabels: {
      'service-1': { labels: { foo: 'bar', foo2: 'bar2' } },
      'service-2': { labels: { foo3: 'bar3' } },
    },
    url: 'tcp://1.1.1.1:5000',
    expirationTime: new Date(600_000),
    initialRegistrationTime: new Date(1_000),
    pathIds: ['p1'],
  };
  const cases: Array<{ name: string; input: Partial<NetworkServiceEndpoint>; want: boolean }> = [
    { name: 'empty template', input: {}, want: true },
    { name: 'the entry itself', input: stored, want: true },
    { name: 'same name', input: { name: 'nse-1' }, want: true },
    { name: 'a substring of the name is not enough', input: { name: 'nse' }, want: false },
    { name: 'url substring', input: { url: '://1.1' }, want: true },
    { name: 'other url', input: { url: 'udp://' }, want: false },
    { name: 'all service names', input: { networkServiceNames: ['service-2', 'service-1'] }, want: true },
    { name: 'some service names', input: { networkServiceNames: ['service-2'] }, want: true },
    { name: 'unknown service name', input: { networkServiceNames: ['service-1', 'service-3'] }, want: false },
    {
      name: 'labels subset',
      input: { networkServiceLabels: { 'service-1': { labels: { foo: 'bar' } } } },
      want: true,
    },
    {
      name: 'service without labels',
      input: { networkServiceLabels: { 'service-2': { labels: {} } } },
      want: true,
    },
    {
      name: 'label with another value',
      input: { networkServiceLabels: { 'service-1': { labels: { foo: 'baz' } } } },
      want: false,
    },
    {
      name: 'label of another service',
      input: { networkServiceLabels: { 'service-2': { labels: { foo: 'bar' } } } },
      want: false,
    },
    {
      name: 'unknown service in labels',
      input: { networkServiceLabels: { 'service-3': { labels: {} } } },
      want: false,
    },
    { name: 'expiration in the same second', input: { expirationTime: new Date(600_999) }, want: true },
    { name: 'other expiration second', input: { expirationTime: new Date(601_000) }, want: false },
    { name: 'registration time ignored', input: { initialRegistrationTime: new Date(5) }, want: true },
    {
      name: 'prototype keys are not services',
      input: { networkServiceLabels: { constructor: { labels: {} } } },
      want: false,
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.equal(matchNseTemplate(input, stored), want);
    });
  }

  it('an entry without expiration counts as second 0', () => {
    const entry = { ...stored, expirationTime: undefined };
    assert.equal(matchNseTemplate({ expirationTime: new Date(999) }, entry), true);
    assert.equal(matchNseTemplate({ expirationTime: new Date(1000) }, entry), false);
  });
});
