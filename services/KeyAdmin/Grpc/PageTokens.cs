using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Keys.KeyAdmin.Data;

namespace Keys.KeyAdmin.Grpc;

/// <summary>
/// The opaque <c>page_token</c> of the listings: where the next page starts, bound to what was listed. Base64url of a
/// version byte, a digest of the listing's scope (which listing, project, environment, filters), the position, and a
/// MAC over all of it. A token carries no authority (every page is checked against the request as the first was), so
/// the MAC is not a lock: it makes a changed, truncated or made-up token an INVALID_PAGE_TOKEN instead of a page read
/// from somewhere its sender did not mean. Its key is derived from the admin token, which every replica shares; a new
/// admin token ends the paging in progress, as any other change of deployment may.
/// </summary>
public sealed class PageTokens(byte[] key)
{
    public const string InvalidReason = "INVALID_PAGE_TOKEN";

    private const byte Version = 1;
    private const int ScopeLength = 16;
    private const int MacLength = 16;
    private const int MaxTokenLength = 512;

    /// <summary>The MAC key for a deployment: derived from its admin token, never the token itself.</summary>
    public static byte[] KeyFrom(string adminToken) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(adminToken), 32, salt: [], info: "keys.v1 page tokens"u8.ToArray());

    /// <summary>The scope of a listing of keys: its project, environment and every filter.</summary>
    public static string KeysScope(string projectId, string environment, KeyListFilter filter) =>
        string.Join('\n', "keys", projectId, environment, filter.Type?.ToString() ?? "", filter.Status ?? "", filter.Query ?? "");

    public const string ProjectsScope = "projects";

    public static string AuditScope(string? projectId) => "audit\n" + (projectId ?? "");

    public string Write(string scope, PageCursor cursor)
    {
        var id = Encoding.UTF8.GetBytes(cursor.Id);
        var position = new byte[8 + id.Length];
        BinaryPrimitives.WriteInt64BigEndian(position, (cursor.CreatedAt.Ticks - DateTime.UnixEpoch.Ticks) / 10);
        id.CopyTo(position, 8);
        return Seal(scope, position);
    }

    public string Write(string scope, long beforeId)
    {
        var position = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(position, beforeId);
        return Seal(scope, position);
    }

    /// <summary>The cursor a token of <paramref name="scope"/> holds; null for an empty token (the first page).</summary>
    public PageCursor? ReadCursor(string token, string scope)
    {
        if (token.Length == 0)
        {
            return null;
        }

        var position = Open(token, scope);
        if (position.Length <= 8)
        {
            throw Invalid();
        }

        var micros = BinaryPrimitives.ReadInt64BigEndian(position);
        var ticks = DateTime.UnixEpoch.Ticks + (micros * 10);
        if (micros < 0 || ticks > DateTime.MaxValue.Ticks)
        {
            throw Invalid();
        }

        return new PageCursor(new DateTime(ticks, DateTimeKind.Utc), Encoding.UTF8.GetString(position.AsSpan(8)));
    }

    /// <summary>The id a token of <paramref name="scope"/> holds; null for an empty token (the first page).</summary>
    public long? ReadId(string token, string scope)
    {
        if (token.Length == 0)
        {
            return null;
        }

        var position = Open(token, scope);
        return position.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(position) : throw Invalid();
    }

    private string Seal(string scope, ReadOnlySpan<byte> position)
    {
        var token = new byte[1 + ScopeLength + position.Length + MacLength];
        token[0] = Version;
        ScopeDigest(scope).CopyTo(token.AsSpan(1));
        position.CopyTo(token.AsSpan(1 + ScopeLength));
        HMACSHA256.HashData(key, token.AsSpan(0, token.Length - MacLength)).AsSpan(0, MacLength).CopyTo(token.AsSpan(token.Length - MacLength));
        return Base64Url.EncodeToString(token);
    }

    private byte[] Open(string token, string scope)
    {
        if (token.Length > MaxTokenLength || !Base64Url.IsValid(token))
        {
            throw Invalid();
        }

        var bytes = Base64Url.DecodeFromChars(token);
        if (bytes.Length < 1 + ScopeLength + MacLength || bytes[0] != Version)
        {
            throw Invalid();
        }

        var signed = bytes.AsSpan(0, bytes.Length - MacLength);
        var mac = HMACSHA256.HashData(key, signed).AsSpan(0, MacLength);
        if (!CryptographicOperations.FixedTimeEquals(mac, bytes.AsSpan(bytes.Length - MacLength)))
        {
            throw Invalid();
        }

        // Sound, but from another listing: another project, environment or filter, or another kind of list.
        if (!ScopeDigest(scope).AsSpan().SequenceEqual(bytes.AsSpan(1, ScopeLength)))
        {
            throw ApiErrors.InvalidArgument(
                InvalidReason,
                "pageToken belongs to another listing: send it with the same project, environment and filters as the request that returned it, or start again without one.");
        }

        return signed[(1 + ScopeLength)..].ToArray();
    }

    private static byte[] ScopeDigest(string scope) => SHA256.HashData(Encoding.UTF8.GetBytes(scope)).AsSpan(0, ScopeLength).ToArray();

    // Never echoes the token: whatever was pasted there is not repeated into logs.
    private static RpcException Invalid() => ApiErrors.InvalidArgument(
        InvalidReason, "pageToken is not a token this listing returned: send nextPageToken as it came, or start again without one.");
}
