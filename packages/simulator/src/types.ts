/** The APIs the simulator speaks, each under its own path prefix (`/anthropic`, `/openai`, `/gemini`, `/azure`). */
export type ProviderName = 'anthropic' | 'openai' | 'gemini' | 'azure'

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
   * The keys the simulated providers were issued. A request with any other credential gets that
   * provider's own invalid-key error (Anthropic and OpenAI 401, Gemini 400 `API_KEY_INVALID`,
   * Azure 401), as the real API would answer a key it never issued. A list applies to every
   * provider; an object gives each provider its own list, and a provider it leaves out accepts
   * any non-empty credential. Without the option every non-empty credential is accepted.
   */
  validKeys?: string[] | Partial<Record<ProviderName, string[]>>
}

/** Which header (or, for Gemini, body detail) tells a client how long a rate-limited key must wait. */
export type RetryStyle =
  | 'retry-after'
  | 'retry-after-ms'
  | 'retry-after-both'
  | 'retry-after-date'
  | 'anthropic-reset'
  | 'openai-reset'
  | 'retry-info'
  | 'none'

/** An error a provider reports inside a stream that started with `200 OK`. */
export type StreamErrorKind = 'rate_limit' | 'quota' | 'unauthorized' | 'forbidden' | 'overloaded' | 'server_error'

/** A scripted misbehaviour for the requests carrying one key. */
export type Fault =
  | {
      kind: 'rate_limit'
      /**
       * Which header says how long to wait. Gemini always carries a `google.rpc.RetryInfo` detail
       * (except with `'none'`); the header styles add their header to it.
       * @default 'retry-after'; Gemini 'retry-info'; Azure 'retry-after-both'
       */
      retry?: RetryStyle
      /**
       * How long to wait, in seconds.
       * @default 2
       */
      seconds?: number
    }
  /** The provider's invalid-key error: 401, or Gemini's 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`. */
  | { kind: 'unauthorized' }
  /** 403 with the provider's permission error (Gemini `PERMISSION_DENIED`). */
  | { kind: 'forbidden' }
  /**
   * A 5xx. Anthropic answers 529 with `overloaded_error`, any other status with `api_error`.
   * @default status 500
   */
  | { kind: 'server_error'; status?: number }
  /**
   * The key's quota or credit is used up. OpenAI: 429 `insufficient_quota`. Anthropic: 400 "Your
   * credit balance is too low...". Gemini: 429 `RESOURCE_EXHAUSTED` whose `QuotaFailure` names a
   * per-day quota (with a `RetryInfo` of `seconds`, which a real per-day quota also sends).
   * Azure: 429 "Please retry after 86400 seconds" with both retry headers.
   */
  | {
      kind: 'quota'
      /**
       * Gemini only: the `RetryInfo.retryDelay`.
       * @default 2
       */
      seconds?: number
    }
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
  /**
   * Streaming: `200 OK` with `text/event-stream`, `afterEvents` events of the normal answer (0:
   * the error is the first event), then the API's own in-stream error event, then the end of the
   * stream. Not streaming: the same error as a status (a `quota` error as the `quota` fault).
   */
  | {
      kind: 'stream_error'
      error: StreamErrorKind
      /** @default 0 */
      afterEvents?: number
      /**
       * OpenAI Responses only: an `error` event, or a `response.failed` event whose response
       * carries the error.
       * @default 'error'
       */
      responsesEvent?: 'error' | 'response.failed'
      /** A wait header on the `200` (as some proxies send), in this style. @default 'none' */
      retry?: RetryStyle
      /** @default 2 */
      seconds?: number
    }

/** One request the simulator received. Live: `status` and `aborted` change as the exchange goes on. */
export interface SimRequest {
  /** 1, 2, 3... in arrival order; never reused, not even after `reset()`. */
  id: number
  provider: ProviderName
  method: string
  /** The path below the provider prefix, e.g. `/v1/messages`, without the query. */
  path: string
  /** The raw query string without `?`; `''` if none. */
  query: string
  /** The headers as received (names lowercased by node). */
  headers: Record<string, string | string[] | undefined>
  /**
   * The credential: Anthropic `x-api-key`; Gemini `x-goog-api-key` or the `key` query parameter;
   * Azure `api-key`; else the token of `Authorization: Bearer` (every provider).
   */
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
  /** `${url}/gemini`: `@google/genai`'s `httpOptions.baseUrl` (it appends `/v1beta/models/...`). */
  geminiBaseURL: string
  /** `${url}/azure`: the resource endpoint, `AzureOpenAI`'s `endpoint` (it appends `/openai/...`). */
  azureBaseURL: string
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
