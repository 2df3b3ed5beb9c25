using Google.Protobuf;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Caching;

/// <summary>
/// Key records in Redis, shared by every KeyValidation replica: <c>keys:v1:record:&lt;sha256&gt;</c> holds the protobuf
/// record (empty for "no such key"), never the key. Writes and invalidations are Lua scripts so that a record loaded
/// before a change can never be written back after the change's invalidation, whichever replica does what.
/// </summary>
public sealed class RedisRecordStore(IConnectionMultiplexer redis, IOptions<KeyValidationOptions> options)
{
    private const string RecordPrefix = "keys:v1:record:";
    private const string InvalidatedPrefix = "keys:v1:invalidated:";

    /// <summary>The highest outbox sequence whose invalidation every Redis record already reflects.</summary>
    public static readonly RedisKey WatermarkKey = "keys:v1:watermark";

    // Writes only when no invalidation newer than the record's snapshot has been applied to this key.
    private static readonly LuaScript WriteIfFresh = LuaScript.Prepare(
        """
        local invalidated = redis.call('GET', @invalidatedKey)
        if invalidated and tonumber(invalidated) > tonumber(@asOf) then return 0 end
        redis.call('SET', @recordKey, @value, 'PX', @ttl)
        return 1
        """);

    private static readonly LuaScript Invalidate = LuaScript.Prepare(
        """
        redis.call('DEL', @recordKey)
        local invalidated = redis.call('GET', @invalidatedKey)
        if not invalidated or tonumber(invalidated) < tonumber(@sequence) then
          redis.call('SET', @invalidatedKey, @sequence, 'PX', @ttl)
        end
        local watermark = redis.call('GET', @watermarkKey)
        if @advance == '1' and (not watermark or tonumber(watermark) < tonumber(@sequence)) then
          redis.call('SET', @watermarkKey, @sequence)
        end
        return 1
        """);

    private static readonly LuaScript AdvanceWatermark = LuaScript.Prepare(
        """
        local watermark = redis.call('GET', @watermarkKey)
        if not watermark or tonumber(watermark) < tonumber(@sequence) then redis.call('SET', @watermarkKey, @sequence) end
        return 1
        """);

    private readonly long _recordTtlMs = (long)options.Value.RecordTtl.TotalMilliseconds;
    private readonly long _notFoundTtlMs = (long)options.Value.NotFoundMaxAge.TotalMilliseconds;

    /// <summary>Found: the record, or null for a cached "no such key". Not found: nothing is cached for the hash.</summary>
    public async Task<(bool Found, KeyRecord? Record)> TryGetAsync(KeyHash hash)
    {
        var value = await redis.GetDatabase().StringGetAsync(RecordKey(hash));
        if (value.IsNull)
        {
            return (false, null);
        }

        var bytes = (byte[])value!;
        return (true, bytes.Length == 0 ? null : KeyRecord.Parser.ParseFrom(bytes));
    }

    public Task<RedisResult> WriteAsync(KeyHash hash, KeyRecord? record, long asOfSequence) =>
        redis.GetDatabase().ScriptEvaluateAsync(WriteIfFresh, new
        {
            recordKey = RecordKey(hash),
            invalidatedKey = InvalidatedKey(hash),
            value = record is null ? [] : record.ToByteArray(),
            asOf = asOfSequence,
            ttl = record is null ? _notFoundTtlMs : _recordTtlMs,
        });

    /// <summary>Drops the record; with <paramref name="advanceWatermark"/>, also moves the shared watermark to the sequence.</summary>
    public Task<RedisResult> InvalidateAsync(KeyHash hash, long sequence, bool advanceWatermark) =>
        redis.GetDatabase().ScriptEvaluateAsync(Invalidate, new
        {
            recordKey = RecordKey(hash),
            invalidatedKey = InvalidatedKey(hash),
            watermarkKey = WatermarkKey,
            sequence,
            ttl = _recordTtlMs,
            advance = advanceWatermark ? "1" : "0",
        });

    public async Task<long?> GetWatermarkAsync()
    {
        var value = await redis.GetDatabase().StringGetAsync(WatermarkKey);
        return value.IsNull ? null : (long)value;
    }

    public Task<RedisResult> AdvanceWatermarkAsync(long sequence) =>
        redis.GetDatabase().ScriptEvaluateAsync(AdvanceWatermark, new { watermarkKey = WatermarkKey, sequence });

    /// <summary>Deletes every cached record: for when nobody can tell which of them missed an invalidation.</summary>
    public async Task FlushAsync()
    {
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (server.IsReplica)
            {
                continue;
            }

            var batch = new List<RedisKey>(1000);
            await foreach (var key in server.KeysAsync(pattern: RecordPrefix + "*", pageSize: 1000))
            {
                batch.Add(key);
                if (batch.Count == 1000)
                {
                    await redis.GetDatabase().KeyDeleteAsync([.. batch]);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                await redis.GetDatabase().KeyDeleteAsync([.. batch]);
            }
        }
    }

    private static RedisKey RecordKey(KeyHash hash) => RecordPrefix + Hex(hash);

    private static RedisKey InvalidatedKey(KeyHash hash) => InvalidatedPrefix + Hex(hash);

    private static string Hex(KeyHash hash) => Convert.ToHexStringLower(hash.ToArray());
}
