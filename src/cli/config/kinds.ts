/**
 * Every source kind a configuration may name, in one list: the service validates and builds each
 * `sources[i]` with the kind its `kind:` names.
 */
import type { SourceKind } from '../../sources/common/config.js';
import { directorySourceKind } from '../../sources/directory/directory-source.js';
import { sftpSourceKind } from '../../sources/sftp/sftp-source.js';

export type AnySourceKind = SourceKind<{ kind: string; id: string }>;

export const SOURCE_KINDS: readonly AnySourceKind[] = [directorySourceKind, sftpSourceKind];
