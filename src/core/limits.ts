/**
 * Every queue, batch, body, file and loop has a named limit (ARCH 2.8). They live here so an
 * operator can read them in one place; docs/limits.md lists them with their reasons.
 */

/** Readings committed together in one database transaction. */
export const BATCH_READINGS_MAX = 10_000;
/**
 * A single record (one JSON object, one CSV row) larger than this is rejected without being
 * buffered.
 */
export const RECORD_BYTES_MAX = 64 * 1024;
/**
 * A batch is cut early once its raw bytes reach this size, which bounds the memory one batch holds.
 */
export const BATCH_BYTES_MAX = 8 * 1024 * 1024;
/** Raw bytes are stored in content-addressed chunks of at most this size. */
export const RAW_CHUNK_BYTES_MAX = 4 * 1024 * 1024;
/** Bytes handed to a parser at a time; smaller pieces keep parsed records short-lived. */
export const PARSE_SLICE_BYTES = 64 * 1024;
/** Bytes read from a file per read call. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** A JSON record nests objects or arrays at most this deep. */
export const JSON_DEPTH_MAX = 16;
/** A record has at most this many fields (CSV columns or JSON keys). */
export const RECORD_FIELDS_MAX = 64;
/**
 * Bytes of a quarantined record that `quarantine show` prints; the whole record (which may be far
 * larger than RECORD_BYTES_MAX) goes only to `--raw-out FILE`, streamed.
 */
export const SHOW_PREVIEW_BYTES_MAX = 4 * 1024;
/** Rows a list command prints at most per page. */
export const LIST_PAGE_ROWS_MAX = 1_000;
/**
 * Quarantine items a replay commits in one transaction (each still its own batch and audit entry),
 * and no more than BATCH_BYTES_MAX kept bytes among them.
 */
export const REPLAY_ITEMS_PER_TRANSACTION = 500;
/** Raw chunks the SQLite store keeps in memory for reading records back, by content hash. */
export const RAW_CHUNKS_CACHED_MAX = 4;

// The service's configuration file (amisync run --config F).

/** A configuration file larger than this is refused before it is parsed. */
export const CONFIG_FILE_BYTES_MAX = 1024 * 1024;
/** Sources one configuration may declare. */
export const CONFIG_SOURCES_MAX = 256;
/** Longest grace a configuration may give the delivery in flight at shutdown. */
export const SHUTDOWN_GRACE_MS_MAX = 600_000;

// REST pull source (src/sources/rest/).

/**
 * A REST page larger than this is refused (TRANSPORT_PROTOCOL) before it is parsed: a page is held
 * in memory once, because the position of its successor (the next cursor) is inside it.
 */
export const REST_PAGE_BYTES_MAX = 64 * 1024 * 1024;
/** Records a source may ask for per page (`pageSize`). */
export const REST_PAGE_SIZE_MAX = 100_000;
/** Pages a REST source may be configured to read per poll (`pagesPerPollMax`). */
export const REST_PAGES_PER_POLL_MAX = 10_000;
/** The longest per-request timeout a REST source may be configured with (`requestTimeoutMs`). */
export const REST_REQUEST_TIMEOUT_MS_MAX = 600_000;
/** A Retry-After or rate-limit reset further away than this is clamped to it. */
export const REST_RETRY_AFTER_MS_MAX = 15 * 60 * 1000;
/** The wait after a 429 that names no Retry-After and no rate-limit reset. */
export const REST_THROTTLE_DEFAULT_MS = 60_000;
/** Pages with a cursor that does not advance delivered at most this many times in a row. */
export const REST_CURSOR_REPEATS_MAX = 3;
/**
 * A page whose body says JSON but does not parse is quarantined with its bytes and asked for again
 * at most this many times in a row; then the source fails with TRANSPORT_PROTOCOL.
 */
export const REST_UNREADABLE_PAGES_MAX = 3;
/** Bytes of a refused page or token response quoted in the error and the log. */
export const REST_ERROR_PREVIEW_BYTES = 256;
/** A token endpoint's answer larger than this is refused. */
export const REST_TOKEN_RESPONSE_BYTES_MAX = 64 * 1024;
/** An OAuth token is refreshed this long before it expires (or at half its life, if shorter). */
export const REST_TOKEN_REFRESH_SKEW_MS = 60_000;

// ------------------------------------------------------------------------------------------------
// JSON dialects (src/formats/json-dialect/, src/formats/json-embedded-array.ts).

/**
 * Bytes of one object key held while looking for a JSON page's records path; a longer key cannot
 * be a path segment (at most JSON_DIALECT_PATH_SEGMENT_CHARS_MAX characters, each at most six
 * bytes escaped) and is only counted.
 */
export const JSON_PAGE_KEY_BYTES_MAX = 1024;
/** Characters of one key in a records path or a field path. */
export const JSON_DIALECT_PATH_SEGMENT_CHARS_MAX = 128;
/** Keys in a records path or a field path. */
export const JSON_DIALECT_PATH_SEGMENTS_MAX = 8;

// ------------------------------------------------------------------------------------------------
// The REST head-end simulator (`amisync simulate rest`, src/simulator/rest/).

/** Records per page the simulated head-end serves at most (a client may ask for fewer). */
export const SIM_REST_PAGE_SIZE_MAX = 50_000;
/** Meters of a simulated feed. */
export const SIM_REST_METERS_MAX = 100_000;
/** Days of a simulated feed. */
export const SIM_REST_DAYS_MAX = 366;
/** Intervals (meters x days x 96) of a simulated feed: the whole feed is held in memory. */
export const SIM_REST_READINGS_MAX = 5_000_000;
/** How long an injected slow response is held back at most. */
export const SIM_REST_SLOW_MS_MAX = 120_000;
/** Bytes of a request body (a token request) the simulated head-end reads at most. */
export const SIM_REST_TOKEN_BODY_BYTES_MAX = 16 * 1024;

// HTTP push source (src/sources/http-push).
/**
 * A push request's body at most (a source may configure less). A request commits whole in one
 * transaction, so its body must fit the bytes one batch may hold (BATCH_BYTES_MAX).
 */
export const PUSH_BODY_BYTES_MAX = 8 * 1024 * 1024;
/** Requests waiting for the runner at most; the next is answered 503 with Retry-After. */
export const PUSH_QUEUED_REQUESTS_MAX = 64;
/** Requests one vendor may send per minute by default (a source may configure another rate). */
export const PUSH_VENDOR_REQUESTS_PER_MINUTE = 600;
/** Bytes of a `text/plain` body's head read to tell NEM12 from CMEP before it is queued. */
export const PUSH_SNIFF_BYTES = 4 * 1024;
/** Characters of an Idempotency-Key at most. */
export const PUSH_IDEMPOTENCY_KEY_CHARS_MAX = 255;
/** A request whose headers or body stall this long is cut (node:http's request timeout). */
export const PUSH_REQUEST_TIMEOUT_MS = 120_000;
/**
 * `amisync simulate push`: sends per body (after 429, 503, a 5xx or a cut), then it fails. With
 * pauses growing by 0.2 s, twenty sends outlast about 40 s of an endpoint that is down (a
 * service restarting after a crash on a loaded machine takes longer than the 9 s ten gave).
 */
export const SIMULATE_PUSH_ATTEMPTS_MAX = 20;

// Message broker sources (MQTT, AMQP, NATS JetStream: src/sources/broker/).
/** Messages one broker batch (one delivery, acknowledged together after commit) holds at most. */
export const BROKER_BATCH_MESSAGES_MAX = 10_000;
/** Bytes of the messages one broker batch holds at most: what one batch of ingest may hold. */
export const BROKER_BATCH_BYTES_MAX = 8 * 1024 * 1024;
/** The longest a broker source may be configured to wait for a batch to fill (`batch.delayMs`). */
export const BROKER_BATCH_DELAY_MS_MAX = 60_000;

// Drop folders (directory and SFTP sources).
/** Files a drop source takes from one listing, unless its `filesPerPollMax` says fewer. */
export const DROP_FILES_PER_POLL_DEFAULT = 100;
/** The most a drop source's `filesPerPollMax` may be set to. */
export const DROP_FILES_PER_POLL_MAX = 10_000;
/** Files a drop folder listing may hold; a larger inbox is read as its oldest files first. */
export const DROP_LISTING_ENTRIES_MAX = 100_000;

// Anomaly review (release and reject of held readings).
/** Characters an operator's note on a release or a rejection must have at least. */
export const DECISION_NOTE_CHARS_MIN = 10;

// Gap listing and estimation (src/pipeline/estimate.ts).
/** Holes at most this long (with a valid value on each side) are interpolated, by default. */
export const ESTIMATE_SHORT_GAP_MINUTES_DEFAULT = 120;
/** The longest short-gap setting an operator may choose: a day and beyond is like-day work. */
export const ESTIMATE_SHORT_GAP_MINUTES_MAX = 1_440;
/** Like days averaged for a longer hole. */
export const ESTIMATE_LIKE_DAYS = 3;
/** How many days before and after a hole's day like days are sought. */
export const ESTIMATE_LIKE_DAY_SEARCH_DAYS = 28;
/** The longest period one gaps list or estimate run covers. */
export const ESTIMATE_PERIOD_DAYS_MAX = 93;
/** Current ledger rows one run reads into memory at most (the period and the like-day search). */
export const ESTIMATE_SPAN_ROWS_MAX = 5_000_000;

// Discrepancy reports (`amisync report discrepancies`).
/** Meters a discrepancy report ranks by kWh at stake and charts, at most. */
export const REPORT_TOP_METERS_MAX = 50;
/** Ledger readings one top meter's chart draws at most (a month of 15-minute intervals fits). */
export const REPORT_CHART_POINTS_MAX = 3_200;
/** Flagged readings of one top meter that its chart marks and its table lists, at most. */
export const REPORT_METER_FLAGS_MAX = 500;

/** Streams whose detector statistics (a few KB each) the SQLite store keeps in memory. */
export const STREAM_STATISTICS_CACHED_MAX = 20_000;

// Labelled feeds and detector scoring (`amisync simulate labelled|score`).
/** Readings (meters x days x 96) of one labelled feed: the feed is generated in memory. */
export const LABELLED_FEED_READINGS_MAX = 2_000_000;
/** Anomaly ledger rows one score reads into memory at most. */
export const LABELLED_SCORE_FLAGS_MAX = 2_000_000;
/** A labels file larger than this is refused before it is parsed. */
export const LABELS_FILE_BYTES_MAX = 256 * 1024 * 1024;

// Dead letters and store outages (src/pipeline/dead-letters.ts, src/pipeline/service.ts).
/**
 * Bytes of one delivery held while it is read, so that a delivery whose attempts are exhausted
 * can be kept whole as a dead letter; a larger one that fails is not acknowledged instead.
 */
export const DEAD_LETTER_BYTES_MAX = 32 * 1024 * 1024;
/** The first wait after the store was found busy, locked or full; each further one doubles. */
export const STORE_OUTAGE_BACKOFF_MS_BASE = 500;
/** The longest wait between two looks at a store that stays unavailable. */
export const STORE_OUTAGE_BACKOFF_MS_MAX = 60_000;

// Emergency pause (`amisync pause` / `resume`, src/pipeline/controls.ts).
/** How often a running service reads the store for pauses and resumes (a pause holds within it). */
export const PAUSE_POLL_INTERVAL_MS = 1_000;
/** The Retry-After the push endpoint gives a vendor while its source is paused. */
export const PAUSE_RETRY_AFTER_SECONDS = 60;
/** Characters a pause's reason must have at least: the audit trail says why, not just who. */
export const PAUSE_REASON_CHARS_MIN = 10;
/** Characters a pause's or a resume's reason may have at most. */
export const PAUSE_REASON_CHARS_MAX = 1_000;

// Resilience (src/resilience): retries, retry budget, circuit breakers, alerts.
/** Buckets a sliding window of call outcomes keeps at most (its memory, whatever the call rate). */
export const SLIDING_WINDOW_BUCKETS_MAX = 600;
/** Attempts of one call a source's retry policy may be set to, at least and at most. */
export const RETRY_ATTEMPTS_MIN = 3;
export const RETRY_ATTEMPTS_MAX = 5;
/** The largest backoff cap (and largest honoured Retry-After) a retry policy may wait. */
export const RETRY_DELAY_MS_MAX = 5 * 60 * 1000;
/** The longest cooldown an open breaker may grow to. */
export const BREAKER_COOLDOWN_MS_MAX = 60 * 60 * 1000;
/** Alerts waiting for the webhook at most; past it the oldest is dropped (and counted). */
export const ALERT_QUEUE_MAX = 1_000;
/** Posts of one alert to the webhook at most. */
export const ALERT_WEBHOOK_ATTEMPTS_MAX = 5;
/** A webhook post that has not answered within this is cut and counts as failed. */
export const ALERT_WEBHOOK_TIMEOUT_MS = 10_000;

// HTTP API and dashboard (src/api).
/** Bytes of a quarantined record the API's `show` answers in base64; past it, `truncated: true`. */
export const API_RAW_BYTES_MAX = 1024 * 1024;
/** Points of a meter's series the anomaly page charts around a held reading, at most. */
export const API_SERIES_POINTS_MAX = 2_000;
