using Google.Protobuf;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Caching;

/// <summary>
/// Key records by SHA-256 of the key: Redis first, KeyAdmin on a miss. Redis holds the compact protobuf record, never
/// the key itself.
/// </summary>
public sealed class KeyRecordCache(
    IConnectionMultiplexer redis,
    V1.KeyAdmin.KeyAdminClient keyAdmin,
    IOptions<KeyValidationOptions> options)
{
    private readonly KeyValidationOptions _options = options.Value;

    public static RedisKey RedisKeyFor(ReadOnlySpan<byte> keyHash) => "keys:v1:record:" + Convert.ToHexStringLower(keyHash);

    /// <summary>The record for this hash, or null when no key has it.</summary>
    public async Task<KeyRecord?> GetAsync(byte[] keyHash, CancellationToken cancellationToken)
    {
        var redisKey = RedisKeyFor(keyHash);
        var database = redis.GetDatabase();
        var cached = await database.StringGetAsync(redisKey);
        if (cached.HasValue)
        {
            return KeyRecord.Parser.ParseFrom((byte[])cached!);
        }

        var response = await keyAdmin.LookupKeyAsync(
            new LookupKeyRequest { KeyHash = ByteString.CopyFrom(keyHash) },
            deadline: DateTime.UtcNow + _options.LookupTimeout,
            cancellationToken: cancellationToken);
        if (response.Record is null)
        {
            return null;
        }

        await database.StringSetAsync(redisKey, response.Record.ToByteArray(), _options.RecordTtl);
        return response.Record;
    }

    public Task RemoveAsync(ReadOnlySpan<byte> keyHash) => redis.GetDatabase().KeyDeleteAsync(RedisKeyFor(keyHash));
}
