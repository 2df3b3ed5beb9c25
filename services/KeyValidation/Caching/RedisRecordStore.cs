using Google.Protobuf;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Caching;

/// <summary>What Redis says about the era its cached records belong to.</summary>
/// <param name="Epoch">The current era's name; null when Redis has none (new, restarted or flushed).</param>
/// <param name="EpochRunId">The run_id of the Redis server the era was started on.</param>
/// <param name="Watermark">The highest outbox sequence every record of the era reflects.</param>
/// <param name="ServerRunId">The run_id of the server answering now.</param>
public sealed record RedisEpochState(string? Epoch, string? EpochRunId, long Watermark, string ServerRunId)
{
    /// <summary>
    /// An era is only valid on the server it started on: a restart that reloads a snapshot, or a replica promoted in a
    /// failover, brings back records that may predate invalidations the lost server had applied.
    /// </summary>
    public bool IsValid => Epoch is not null && EpochRunId == ServerRunId;
}

/// <summary>
/// Key records in Redis, shared by every KeyValidation replica: <c>keys:v1:record:&lt;epoch&gt;:&lt;sha256&gt;</c> holds
/// the protobuf record (empty for "no such key"), never the key. Every read and write names the epoch it expects and
/// is a no-op under any other: once Redis loses its state (restart, failover, flush) and a new epoch is started, no
/// record loaded before can be read or written back, and no fencing marker is needed from the old era.
/// </summary>
public sealed class RedisRecordStore(IConnectionMultiplexer redis, IOptions<KeyValidationOptions> options)
{
    /// <summary>A hash: <c>epoch</c>, <c>runid</c>, <c>watermark</c>.</summary>
    private readonly RedisKey _stateKey = options.Value.RedisKeyPrefix + "state";
    private readonly string _recordPrefix = options.Value.RedisKeyPrefix + "record:";
    private readonly string _invalidatedPrefix = options.Value.RedisKeyPrefix + "invalidated:";

    // Every read and write first checks that the epoch is the caller's and was started on the server answering now.
    // INFO inside a script costs microseconds, and only lookups that missed process memory pay it.
    private const string EpochGuard =
        """
        local state = redis.call('HMGET', @stateKey, 'epoch', 'runid')
        local current = state[1] == @epoch and state[2] == string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
        """;

    private static readonly LuaScript Read = LuaScript.Prepare(EpochGuard +
        """
        if not current then return false end
        return redis.call('GET', @recordKey)
        """);

    // Writes only in the expected epoch, and only when no invalidation newer than the record's snapshot has been
    // applied to this key.
    private static readonly LuaScript WriteIfFresh = LuaScript.Prepare(EpochGuard +
        """
        if not current then return 0 end
        local invalidated = redis.call('GET', @invalidatedKey)
        if invalidated and tonumber(invalidated) > tonumber(@asOf) then return 0 end
        redis.call('SET', @recordKey, @value, 'PX', @ttl)
        return 1
        """);

    // Returns 0 when the epoch has changed: the caller has to start over from the new one.
    private static readonly LuaScript Invalidate = LuaScript.Prepare(EpochGuard +
        """
        if not current then return 0 end
        redis.call('DEL', @recordKey)
        local invalidated = redis.call('GET', @invalidatedKey)
        if not invalidated or tonumber(invalidated) < tonumber(@sequence) then
          redis.call('SET', @invalidatedKey, @sequence, 'PX', @ttl)
        end
        local watermark = redis.call('HGET', @stateKey, 'watermark')
        if not watermark or tonumber(watermark) < tonumber(@sequence) then
          redis.call('HSET', @stateKey, 'watermark', @sequence)
        end
        return 1
        """);

    // Ends the epoch unless it already reflects the change at @sequence: its watermark is at or past it only when it was
    // started after the change or synced past it, and a replica syncing in order ends the epoch at the change.
    private static readonly LuaScript EndBefore = LuaScript.Prepare(
        """
        local watermark = redis.call('HGET', @stateKey, 'watermark')
        if watermark and tonumber(watermark) < tonumber(@sequence) then
          redis.call('DEL', @stateKey)
          return 1
        end
        return 0
        """);

    private static readonly LuaScript ReadState = LuaScript.Prepare(
        """
        local state = redis.call('HMGET', @stateKey, 'epoch', 'runid', 'watermark')
        return { state[1] or '', state[2] or '', state[3] or '0', string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') }
        """);

    // Starts a new epoch unless someone else already replaced the one the caller saw.
    private static readonly LuaScript StartEpochScript = LuaScript.Prepare(
        """
        if (redis.call('HGET', @stateKey, 'epoch') or '') ~= @expected then return 0 end
        redis.call('DEL', @stateKey)
        redis.call('HSET', @stateKey, 'epoch', @epoch, 'runid', @runId, 'watermark', @watermark)
        return 1
        """);

    private readonly long _recordTtlMs = (long)options.Value.RecordTtl.TotalMilliseconds;
    private readonly long _notFoundTtlMs = (long)options.Value.NotFoundMaxAge.TotalMilliseconds;

    /// <summary>Found: the record, or null for a cached "no such key". Not found: nothing cached for the hash in this epoch.</summary>
    public async Task<(bool Found, KeyRecord? Record)> TryGetAsync(KeyHash hash, string epoch)
    {
        var value = await redis.GetDatabase().ScriptEvaluateAsync(Read, new { stateKey = _stateKey, epoch, recordKey = RecordKey(epoch, hash) });
        if (value.IsNull)
        {
            return (false, null);
        }

        var bytes = (byte[])value!;
        return (true, bytes.Length == 0 ? null : KeyRecord.Parser.ParseFrom(bytes));
    }

    public Task<RedisResult> WriteAsync(KeyHash hash, KeyRecord? record, long asOfSequence, string epoch) =>
        redis.GetDatabase().ScriptEvaluateAsync(WriteIfFresh, new
        {
            stateKey = _stateKey,
            epoch,
            recordKey = RecordKey(epoch, hash),
            invalidatedKey = InvalidatedKey(epoch, hash),
            value = record is null ? [] : record.ToByteArray(),
            asOf = asOfSequence,
            ttl = record is null ? _notFoundTtlMs : _recordTtlMs,
        });

    /// <summary>Drops the record, fences it at the sequence, and moves the epoch's watermark along. False: the epoch changed.</summary>
    public async Task<bool> InvalidateAsync(KeyHash hash, long sequence, string epoch) =>
        (int)await redis.GetDatabase().ScriptEvaluateAsync(Invalidate, new
        {
            stateKey = _stateKey,
            epoch,
            recordKey = RecordKey(epoch, hash),
            invalidatedKey = InvalidatedKey(epoch, hash),
            sequence,
            ttl = _recordTtlMs,
        }) == 1;

    public async Task<RedisEpochState> ReadEpochAsync()
    {
        var state = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReadState, new { stateKey = _stateKey }))!;
        var epoch = (string)state[0]!;
        return new RedisEpochState(
            epoch.Length == 0 ? null : epoch,
            (string?)state[1],
            long.Parse((string)state[2]!, System.Globalization.CultureInfo.InvariantCulture),
            (string)state[3]!);
    }

    /// <summary>Starts <paramref name="epoch"/> at <paramref name="watermark"/> unless the epoch is no longer <paramref name="expected"/>.</summary>
    public async Task<bool> StartEpochAsync(string? expected, string epoch, string runId, long watermark) =>
        (int)await redis.GetDatabase().ScriptEvaluateAsync(StartEpochScript, new
        {
            stateKey = _stateKey,
            expected = expected ?? "",
            epoch,
            runId,
            watermark,
        }) == 1;

    /// <summary>Ends the current epoch: no record of it can be read again, and replicas start a new, empty one.</summary>
    public Task ForgetEpochAsync() => redis.GetDatabase().KeyDeleteAsync(_stateKey);

    /// <summary>
    /// Ends the current epoch, as <see cref="ForgetEpochAsync"/>, unless its watermark is at or past
    /// <paramref name="sequence"/>: a change that covers keys no one can find in Redis (every key of a project), which an
    /// epoch started before it may hold stale records of. True when it ended one.
    /// </summary>
    public async Task<bool> EndEpochBeforeAsync(long sequence) =>
        (int)await redis.GetDatabase().ScriptEvaluateAsync(EndBefore, new { stateKey = _stateKey, sequence }) == 1;

    private RedisKey RecordKey(string epoch, KeyHash hash) => _recordPrefix + epoch + ":" + Hex(hash);

    private RedisKey InvalidatedKey(string epoch, KeyHash hash) => _invalidatedPrefix + epoch + ":" + Hex(hash);

    private static string Hex(KeyHash hash) => Convert.ToHexStringLower(hash.ToArray());
}
