// The hot-plug client's configuration: the nsc's, plus where the pod's annotations are.
import { t } from '../../../sdk/tools/config/index.js';
import { nscSchema } from '../../nsc/config.js';

export const nscK8sSchema = {
  ...nscSchema,
  name: t.string({
    env: 'NSM_NAME',
    description:
      'Name of this client; connection ids are NAME-<hash of the NSURL>-0, stable while other NSURLs come and go. Default: nsc-<hostname>.',
  }),
  annotationsFile: t.string({
    env: 'NSM_ANNOTATIONS_FILE',
    description:
      "The pod's annotations as a downward-API volume file; watched, so editing the annotation adds or removes connections. Unset: no hot-plug.",
  }),
  annotation: t.string({
    env: 'NSM_ANNOTATION',
    default: 'networkservicemesh.io',
    description: 'The annotation in that file that lists the NSURLs.',
  }),
  pollInterval: t.duration({
    env: 'NSM_POLL_INTERVAL',
    default: '1s',
    min: 10,
    description: 'How often the file is read besides the file-system notifications.',
  }),
};
