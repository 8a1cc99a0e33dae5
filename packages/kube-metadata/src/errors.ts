// The one table of @sextant/kube-metadata error codes. Every code is documented in README.md
// (test/errors.test.ts checks that).

export interface ErrorSpec {
  readonly message: string;
  /** HTTP status a server should answer with when this error reaches a client. */
  readonly status: number;
}

export const errorCodes = {
  SEXTANT_KUBE_INVALID_OPTION: { message: 'metadata cache option is invalid', status: 500 },
  SEXTANT_KUBE_INVALID_RULE: { message: 'extraction rule is invalid', status: 500 },
  SEXTANT_KUBE_FILE_UNREADABLE: { message: 'object file cannot be read', status: 500 },
  SEXTANT_KUBE_FILE_INVALID: { message: 'object file is not YAML/JSON of Kubernetes objects', status: 500 },
  SEXTANT_KUBE_KUBECONFIG: { message: 'kubeconfig cannot be loaded', status: 500 },
  SEXTANT_KUBE_NOT_IN_CLUSTER: { message: 'in-cluster configuration is not available', status: 500 },
  SEXTANT_KUBE_FORBIDDEN: { message: 'the API server refused access (RBAC)', status: 503 },
  SEXTANT_KUBE_LIST_FAILED: { message: 'LIST against the API server failed', status: 503 },
  SEXTANT_KUBE_WATCH_FAILED: { message: 'WATCH against the API server failed', status: 503 },
  SEXTANT_KUBE_ALREADY_STARTED: { message: 'metadata cache was already started', status: 500 },
  SEXTANT_KUBE_SHUT_DOWN: { message: 'metadata cache is shut down', status: 503 },
} as const satisfies Record<string, ErrorSpec>;

export type KubeErrorCode = keyof typeof errorCodes;

/** Error with a stable `.code` from the table above and the HTTP status to map it to. */
export class KubeMetadataError extends Error {
  readonly code: KubeErrorCode;
  readonly status: number;
  constructor(code: KubeErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = errorCodes[code];
    super(`${code}: ${detail ?? spec.message}`, options);
    this.name = 'KubeMetadataError';
    this.code = code;
    this.status = spec.status;
  }
}

export function isKubeMetadataError(err: unknown, code?: KubeErrorCode): err is KubeMetadataError {
  return err instanceof KubeMetadataError && (code === undefined || err.code === code);
}
