// resolv.conf: the few lines we read (nameserver, search, options) and the file we write while the
// client has mesh DNS: our local forwarder first, the mesh's search domains before the pod's own.
export interface ResolvConf {
  readonly nameservers: string[];
  readonly search: string[];
  readonly options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

export function renderResolvConf(conf: ResolvConf): string {
  const lines = ['# written by the nsm client: mesh names go to the mesh, the rest where they went before'];
  for (const ns of conf.nameservers) lines.push(`nameserver ${ns}`);
  if (conf.search.length) lines.push(`search ${conf.search.join(' ')}`);
  if (conf.options.length) lines.push(`options ${conf.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
