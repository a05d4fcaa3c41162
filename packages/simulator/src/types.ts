/** Options of `startSimulator`. */
export interface SimulatorOptions {
  /**
   * TCP port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Delay between two SSE events of a streamed answer, in milliseconds. With 0 each event is
   * still written (and flushed) on its own.
   * @default 0
   */
  eventDelayMs?: number
  /**
   * When given, a request whose credential is not in this list gets a provider-shaped 401.
   * Without it every non-empty credential is accepted.
   */
  validKeys?: string[]
}

/** A scripted misbehaviour for the requests carrying one key. */
export type Fault =
  | {
      kind: 'rate_limit'
      /**
       * Which header says how long to wait.
       * @default 'retry-after'
       */
      retry?: 'retry-after' | 'retry-after-ms' | 'retry-after-date' | 'anthropic-reset' | 'openai-reset' | 'none'
      /**
       * How long to wait, in seconds.
       * @default 2
       */
      seconds?: number
    }
  /** 401 with the provider's authentication error. */
  | { kind: 'unauthorized' }
  /** 403 with the provider's permission error. */
  | { kind: 'forbidden' }
  /**
   * A 5xx. Anthropic answers 529 with `overloaded_error`, any other status with `api_error`.
   * @default status 500
   */
  | { kind: 'server_error'; status?: number }
  /** OpenAI: 429 `insufficient_quota`. Anthropic: 400 "Your credit balance is too low...". */
  | { kind: 'quota' }
  /** Waits `ms` before sending the response headers, then answers normally. */
  | { kind: 'slow_first_byte'; ms: number }
  /**
   * Streaming: sends `afterEvents` SSE events, then destroys the socket. Not streaming: sends
   * the headers with the full `content-length` and half the body, then destroys the socket.
   * @default afterEvents 2
   */
  | { kind: 'die_mid_stream'; afterEvents?: number }
  /**
   * Streaming: sends `afterEvents` SSE events, then holds the response open until
   * `sim.release()` or the client disconnects. Not streaming: sends the headers and holds the body.
   * @default afterEvents 1
   */
  | { kind: 'stall'; afterEvents?: number }

/** One request the simulator received. Live: `status` and `aborted` change as the exchange goes on. */
export interface SimRequest {
  /** 1, 2, 3... in arrival order; never reused, not even after `reset()`. */
  id: number
  provider: 'anthropic' | 'openai'
  method: string
  /** The path below the provider prefix, e.g. `/v1/messages`, without the query. */
  path: string
  /** The raw query string without `?`; `''` if none. */
  query: string
  /** The headers as received (names lowercased by node). */
  headers: Record<string, string | string[] | undefined>
  /** The credential: Anthropic `x-api-key`, or the token of `Authorization: Bearer` (both providers). */
  key: string | null
  /** The request body bytes exactly as received. */
  body: Buffer
  /** The status sent; 0 until the response headers are sent. */
  status: number
  /** True if the client closed the connection before the response ended. */
  aborted: boolean
  /** The scripted fault applied to this request, if any. */
  fault: Fault['kind'] | null
}

/** A running simulator. */
export interface Simulator {
  /** `http://127.0.0.1:PORT` */
  url: string
  port: number
  /** `${url}/anthropic`: the Anthropic SDK's `baseURL` (it appends `/v1/messages`). */
  anthropicBaseURL: string
  /** `${url}/openai`: the OpenAI SDK's `baseURL` is `${openaiBaseURL}/v1`. */
  openaiBaseURL: string
  /** Every request received, in arrival order. */
  requests: SimRequest[]
  /**
   * Scripts a fault for the requests carrying `key`. `times` is how many requests it applies to
   * (default: until cleared). Several faults for one key queue in order.
   */
  fault(key: string, fault: Fault, options?: { times?: number }): void
  /** Clears the faults of one key, or of every key. */
  clearFaults(key?: string): void
  /** Lets every stalled response continue normally to its end. */
  release(): void
  /**
   * Resolves with the first request matching `predicate`, already received or still to come;
   * the predicate is evaluated again whenever a request's status or `aborted` changes.
   * Rejects after `timeoutMs` (default 5000).
   */
  waitFor(predicate: (r: SimRequest) => boolean, timeoutMs?: number): Promise<SimRequest>
  /** Resolves when request `id` has been aborted by its client; rejects after `timeoutMs` (default 5000). */
  waitForAbort(id: number, timeoutMs?: number): Promise<void>
  /** Clears the recorded requests and every fault. */
  reset(): void
  /** Closes the server and all its connections, stalled ones included. */
  close(): Promise<void>
}
