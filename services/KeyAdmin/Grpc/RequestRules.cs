using System.Text.RegularExpressions;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Data;

namespace Keys.KeyAdmin.Grpc;

/// <summary>What a well-formed management request looks like. Each rule fails with its own stable code.</summary>
public static partial class RequestRules
{
    public const int MaxNameLength = 64;
    public const int MaxScopes = 50;
    public const int MaxOperatorProjects = 100;

    /// <summary>Names audit rows give KeyAdmin's own credentials: an operator named so would pass for one of them.</summary>
    public static readonly string[] ReservedOperatorNames = [Caller.AdminToken.Name, Caller.Dashboard.Name];

    public static string ProjectName(string name)
    {
        var trimmed = name.Trim();
        if (trimmed.Length is 0 or > MaxNameLength || trimmed.Any(char.IsControl))
        {
            throw ApiErrors.InvalidArgument("INVALID_PROJECT_NAME", $"A project name is 1 to {MaxNameLength} characters.");
        }

        // Listed, audited and echoed in errors, like a key's name; 64 characters hold a 52-character key and a label.
        if (ContainsSecret(trimmed))
        {
            throw ApiErrors.InvalidArgument("INVALID_PROJECT_NAME", "A project name must not hold an API key or token. Name it after the product, such as My App.");
        }

        return trimmed;
    }

    public const int MaxGracePeriodSeconds = 30 * 24 * 60 * 60;
    public const int DefaultAuditLimit = 100;
    public const int MaxAuditLimit = 1000;

    public static string EnvironmentName(string name)
    {
        if (!ProjectStore.IsEnvironmentName(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_ENVIRONMENT_NAME",
                "An environment name is 1 to 32 characters: lowercase letters, digits and '-', starting with a letter or digit.");
        }

        return name;
    }

    public static TimeSpan GracePeriod(int seconds) => seconds is >= 0 and <= MaxGracePeriodSeconds
        ? TimeSpan.FromSeconds(seconds)
        : throw ApiErrors.InvalidArgument(
            "INVALID_GRACE_PERIOD", $"gracePeriodSeconds is from 0 (the old key stops now) to {MaxGracePeriodSeconds} (30 days).");

    public static int AuditLimit(int limit) => limit switch
    {
        0 => DefaultAuditLimit,
        > 0 and <= MaxAuditLimit => limit,
        _ => throw ApiErrors.InvalidArgument("INVALID_LIMIT", $"limit is from 1 to {MaxAuditLimit}."),
    };

    public static string ConfirmName(string confirmName) => string.IsNullOrEmpty(confirmName)
        ? throw ApiErrors.InvalidArgument("CONFIRM_NAME_REQUIRED", "Type the key's name as confirmName to delete it.")
        : confirmName;

    public static string KeyName(string name)
    {
        // A name is listed, audited and echoed in errors: an API key pasted into it, whole or beside a label
        // ("ci sk_…"), would be all three.
        if (ContainsSecret(name))
        {
            throw ApiErrors.InvalidArgument("INVALID_KEY_NAME", "A key name must not hold an API key or token. Name it after what uses it, such as my-app-key.");
        }

        if (!KeyNamePattern().IsMatch(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_KEY_NAME",
                $"A key name is 1 to {MaxNameLength} characters: letters, digits, '-', '_', '.', and spaces inside (not at either end).");
        }

        return name;
    }

    public static string OperatorName(string name)
    {
        if (ContainsSecret(name))
        {
            throw ApiErrors.InvalidArgument("INVALID_OPERATOR_NAME", "An operator name must not hold a token or key. Name the person or job that holds it, such as ana or ci-deploy.");
        }

        if (!KeyNamePattern().IsMatch(name))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_OPERATOR_NAME",
                $"An operator name is 1 to {MaxNameLength} characters: letters, digits, '-', '_', '.', and spaces inside (not at either end).");
        }

        if (ReservedOperatorNames.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiErrors.InvalidArgument("INVALID_OPERATOR_NAME", $"'{name}' names one of KeyAdmin's own credentials in the audit log; choose another name.");
        }

        return name;
    }

    public static OperatorRole OperatorRole(string role) => OperatorRoles.TryParseName(role, out var parsed)
        ? parsed
        : throw ApiErrors.InvalidArgument("INVALID_ROLE", "A role is 'owner', 'editor' or 'viewer'.");

    /// <summary>The projects an operator's token is limited to; none: every project.</summary>
    public static string[] OperatorProjects(OperatorRole role, IReadOnlyCollection<string> projectIds)
    {
        if (projectIds.Count == 0)
        {
            return [];
        }

        if (role == Access.OperatorRole.Owner)
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_PROJECT_LIMIT",
                "An owner manages operators, who span projects, so an owner's token cannot be limited to projects; give the editor or viewer role instead.");
        }

        if (projectIds.Count > MaxOperatorProjects)
        {
            throw ApiErrors.InvalidArgument("INVALID_PROJECT_LIMIT", $"A token is limited to at most {MaxOperatorProjects} projects.");
        }

        var position = 0;
        foreach (var projectId in projectIds)
        {
            position++;
            if (!ResourceId.IsWellFormed(projectId, ResourceId.ProjectPrefix))
            {
                throw ApiErrors.InvalidArgument(
                    "INVALID_PROJECT_LIMIT", $"Project {position} of {projectIds.Count} is not a project ID: they look like prj_ and 22 letters and digits.");
            }
        }

        return projectIds.Distinct(StringComparer.Ordinal).ToArray();
    }

    public static Invalidation.CacheFlushTarget FlushTarget(string target) => target switch
    {
        Invalidation.CacheFlusher.KeyValidationTarget => Invalidation.CacheFlushTarget.KeyValidation,
        Invalidation.CacheFlusher.GatewaysTarget => Invalidation.CacheFlushTarget.Gateways,
        _ => throw ApiErrors.InvalidArgument("INVALID_FLUSH_TARGET", "A flush target is 'key-validation' or 'gateways'."),
    };

    public static ApiKeyType KeyType(string type) => ApiKeyTypes.TryParseName(type, out var parsed)
        ? parsed
        : throw ApiErrors.InvalidArgument("INVALID_KEY_TYPE", "A key type is 'publishable' or 'secret'.");

    public static string[] KeyScopes(IReadOnlyCollection<string> scopes)
    {
        if (scopes.Count > MaxScopes)
        {
            throw ApiErrors.InvalidArgument("INVALID_SCOPE", $"A key has at most {MaxScopes} scopes.");
        }

        var position = 0;
        foreach (var scope in scopes)
        {
            position++;
            if (!Scopes.IsValid(scope))
            {
                // By position, never by value: error messages are logged, and a pasted key must not be.
                throw ApiErrors.InvalidArgument(
                    "INVALID_SCOPE",
                    $"Scope {position} of {scopes.Count} is not of the form '{{resource}}:{{operation}}', where resource is a name or '*' and operation is read, create, update, delete or '*'.");
            }
        }

        return scopes.Distinct(StringComparer.Ordinal).ToArray();
    }

    public static DateTime? ExpiresAt(Google.Protobuf.WellKnownTypes.Timestamp? expiresAt, DateTimeOffset now)
    {
        if (expiresAt is null)
        {
            return null;
        }

        var value = expiresAt.ToDateTime();
        if (value <= now.UtcDateTime)
        {
            throw ApiErrors.InvalidArgument("INVALID_EXPIRY", "expiresAt must be in the future.");
        }

        return value;
    }

    public const int MaxPageSize = 500;
    public const int DefaultPageSize = 50;
    public const int MaxAuditPageSize = 1000;
    public const int MaxQueryLength = 64;
    public const long MaxRateLimit = 1_000_000_000;
    public const int MaxRateLimitWindowSeconds = 86_400;
    public const int MaxAllowlistEntries = 100;
    public const int MaxMetadataBytes = 1024;

    /// <summary>
    /// A DNS name's limit (RFC 1035), on an origin's host as kept (lowercase, punycode); System.Uri already refuses a
    /// label over 63.
    /// </summary>
    public const int MaxOriginHostLength = 253;

    /// <summary>A listing's page size: 0 is <see cref="DefaultPageSize"/>.</summary>
    public static int PageSize(int pageSize) => pageSize switch
    {
        0 => DefaultPageSize,
        > 0 and <= MaxPageSize => pageSize,
        _ => throw ApiErrors.InvalidArgument("INVALID_PAGE_SIZE", $"pageSize is from 1 to {MaxPageSize}, or 0 for {DefaultPageSize}."),
    };

    /// <summary>The audit log's page size: 0 is the older <c>limit</c>, whose own rule and default still hold.</summary>
    public static int AuditPageSize(int pageSize, int limit) => pageSize switch
    {
        0 => AuditLimit(limit),
        > 0 and <= MaxAuditLimit => pageSize,
        _ => throw ApiErrors.InvalidArgument("INVALID_PAGE_SIZE", $"pageSize is from 1 to {MaxAuditLimit}, or 0 for limit (default {DefaultAuditLimit})."),
    };

    /// <summary>A listing's key type filter; empty: both.</summary>
    public static ApiKeyType? KeyTypeFilter(string type) => type.Length == 0 ? null : KeyType(type);

    /// <summary>A listing's status filter; empty: any.</summary>
    public static string? StatusFilter(string status) => status.Length == 0
        ? null
        : KeyStatus.Listable.Contains(status, StringComparer.Ordinal)
            ? status
            : throw ApiErrors.InvalidArgument("INVALID_STATUS_FILTER", $"status is one of {string.Join(", ", KeyStatus.Listable)}, or empty for any.");

    /// <summary>A search of key names and masked values; empty: none.</summary>
    public static string? Query(string query)
    {
        if (query.Length == 0)
        {
            return null;
        }

        if (query.Length > MaxQueryLength || query.Any(char.IsControl))
        {
            throw ApiErrors.InvalidArgument("INVALID_QUERY", $"q is up to {MaxQueryLength} characters of a key's name or masked value, with no control characters.");
        }

        // q travels in the URL, which proxies and browsers keep; a whole key there is one more copy of it.
        if (ContainsSecret(query))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_QUERY",
                "q holds an API key or operator token; never put one in a URL. To learn which key a value is, send it in the body of FindKey (POST /v1/keys:find).");
        }

        return query;
    }

    public static RateLimitSetting? RateLimit(Keys.V1.RateLimit? rateLimit)
    {
        if (rateLimit is null)
        {
            return null;
        }

        var mode = rateLimit.Mode.Length == 0 ? RateLimitSetting.Local : rateLimit.Mode;
        if (rateLimit.Limit is < 1 or > MaxRateLimit || rateLimit.WindowSeconds is < 1 or > MaxRateLimitWindowSeconds
            || mode is not (RateLimitSetting.Local or RateLimitSetting.Global))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_RATE_LIMIT",
                $"A rate limit is 1 to {MaxRateLimit:N0} requests (limit) per window of 1 to {MaxRateLimitWindowSeconds:N0} seconds (windowSeconds), " +
                "counted per replica (mode 'local', the default) or across replicas ('global').");
        }

        return new RateLimitSetting(rateLimit.Limit, rateLimit.WindowSeconds, mode);
    }

    /// <summary>
    /// Client networks, each as Postgres's <c>cidr</c> and the gateways read it: <c>10.0.0.0/8</c>, <c>2001:db8::/32</c>;
    /// a bare address is that one address (<c>/32</c> or <c>/128</c>). A network written with bits set after its prefix
    /// (<c>10.1.2.3/8</c>) is refused, not widened: the operator may have meant the one address.
    /// </summary>
    public static string[] AllowedCidrs(IReadOnlyCollection<string> cidrs)
    {
        if (cidrs.Count > MaxAllowlistEntries)
        {
            throw ApiErrors.InvalidArgument("INVALID_ALLOWED_CIDRS", $"A key has at most {MaxAllowlistEntries} CIDRs.");
        }

        var normalized = new List<string>(cidrs.Count);
        var position = 0;
        foreach (var cidr in cidrs)
        {
            position++;
            normalized.Add(Cidr(cidr.Trim(), position, cidrs.Count));
        }

        return normalized.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Origins as browsers send them: <c>scheme://host[:port]</c>, http or https, the host in lowercase (and
    /// punycode), the scheme's default port left out. A trailing slash is dropped; a path, query, fragment, user or
    /// wildcard is refused.
    /// </summary>
    public static string[] AllowedOrigins(IReadOnlyCollection<string> origins)
    {
        if (origins.Count > MaxAllowlistEntries)
        {
            throw ApiErrors.InvalidArgument("INVALID_ALLOWED_ORIGINS", $"A key has at most {MaxAllowlistEntries} origins.");
        }

        var normalized = new List<string>(origins.Count);
        var position = 0;
        foreach (var origin in origins)
        {
            position++;
            normalized.Add(Origin(origin.Trim()) ?? throw ApiErrors.InvalidArgument(
                "INVALID_ALLOWED_ORIGINS",
                $"Origin {position} of {origins.Count} is not an origin: write the scheme (http or https), the host and a port only if it is not the default, " +
                $"as a browser sends it (https://app.example.com, http://localhost:3000); no path, wildcard or trailing characters, and a host of at most {MaxOriginHostLength} characters."));
        }

        return normalized.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>CIDRs are for secret keys (servers), origins for publishable keys (browsers).</summary>
    public static void Allowlists(ApiKeyType type, string[] cidrs, string[] origins)
    {
        if ((cidrs.Length > 0 && type != ApiKeyType.Secret) || (origins.Length > 0 && type != ApiKeyType.Publishable))
        {
            throw ApiErrors.From(KeyAdminException.AllowlistNotForKeyType(type));
        }
    }

    /// <summary>
    /// The operator's metadata as compact JSON (null when unset or empty): an object of at most
    /// <see cref="MaxMetadataBytes"/> bytes, and no key or operator token anywhere in it, names included: metadata is
    /// listed, audited and shown in the console.
    /// </summary>
    public static string? Metadata(Google.Protobuf.WellKnownTypes.Struct? metadata)
    {
        if (metadata is null || metadata.Fields.Count == 0)
        {
            return null;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(
            buffer, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteStruct(writer, metadata);
        }

        if (buffer.WrittenCount > MaxMetadataBytes)
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_METADATA", $"metadata is {buffer.WrittenCount} bytes as compact JSON; it may be at most {MaxMetadataBytes}.");
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The fields a key update's mask names.</summary>
    public static HashSet<KeyField> KeyUpdateFields(Google.Protobuf.WellKnownTypes.FieldMask? mask, bool fromRest) =>
        UpdateFields(mask, fromRest, Keys.V1.KeyUpdate.Descriptor, "a key", number => (KeyField)(number - 1));

    /// <summary>The fields a project update's mask names.</summary>
    public static HashSet<ProjectField> ProjectUpdateFields(Google.Protobuf.WellKnownTypes.FieldMask? mask, bool fromRest) =>
        UpdateFields(mask, fromRest, Keys.V1.ProjectUpdate.Descriptor, "a project", number => (ProjectField)(number - 1));

    /// <summary>A project's lifetime policy for secret keys, in days; 0: none (null).</summary>
    public static int? LifetimeDays(int days) => days switch
    {
        0 => null,
        > 0 and <= LifetimePolicy.MaxDays => days,
        _ => throw ApiErrors.InvalidArgument(
            "INVALID_LIFETIME_POLICY", $"maxSecretKeyLifetimeDays is from 1 to {LifetimePolicy.MaxDays} days, or 0 for no limit."),
    };

    /// <summary>The value FindKey looks for: a whole API key, surrounding whitespace aside. Never echoed.</summary>
    public static string FindKeyValue(string key)
    {
        var trimmed = key.Trim();
        if (OperatorToken.IsWellFormed(trimmed))
        {
            throw ApiErrors.InvalidArgument("INVALID_KEY_FORMAT", "This is an operator token (op_…), not an API key: operators are listed by GET /v1/operators.");
        }

        return KeyString.IsWellFormed(trimmed)
            ? trimmed
            : throw ApiErrors.InvalidArgument(
                "INVALID_KEY_FORMAT",
                $"This is not an API key: a key is pk_ or sk_ and {KeyString.BodyLength + KeyString.ChecksumLength} letters and digits, the last {KeyString.ChecksumLength} a checksum. Paste the whole key.");
    }

    private static HashSet<TField> UpdateFields<TField>(
        Google.Protobuf.WellKnownTypes.FieldMask? mask, bool fromRest, Google.Protobuf.Reflection.MessageDescriptor update, string what,
        Func<int, TField> fieldOf)
        where TField : struct, Enum
    {
        var fields = update.Fields.InFieldNumberOrder();
        var names = string.Join(", ", fields.Select(f => f.JsonName));
        var paths = mask?.Paths ?? [];
        if (paths.Count == 0)
        {
            throw fromRest
                ? ApiErrors.InvalidArgument("NOTHING_TO_UPDATE", $"The request changes nothing: send one or more of {names} in the body.")
                : ApiErrors.InvalidArgument(
                    "INVALID_UPDATE_MASK", $"update_mask names no field: give one or more of {names} (or their snake_case names). A field in the mask but unset is cleared.");
        }

        var chosen = new HashSet<TField>();
        var position = 0;
        foreach (var path in paths)
        {
            position++;
            // By its JSON name (REST, and FieldMask's JSON form) or its proto name (a gRPC client's FieldMask).
            var field = fields.FirstOrDefault(f => f.JsonName == path || f.Name == path)
                ?? throw ApiErrors.InvalidArgument(
                    "INVALID_UPDATE_MASK",
                    $"update_mask path {position} of {paths.Count} is not a field of {what} that an update may change; they are {names}.");
            chosen.Add(fieldOf(field.FieldNumber));
        }

        return chosen;
    }

    private static string Cidr(string cidr, int position, int count)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? cidr : cidr[..slash];
        var prefixText = slash < 0 ? null : cidr[(slash + 1)..];
        if (!TryParseAddress(addressText, out var address))
        {
            throw InvalidCidr(position, count);
        }

        var maxPrefix = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maxPrefix;
        if (prefixText is not null
            && (!PrefixPattern().IsMatch(prefixText) || (prefix = int.Parse(prefixText, System.Globalization.CultureInfo.InvariantCulture)) > maxPrefix))
        {
            throw InvalidCidr(position, count);
        }

        var network = System.Net.IPNetwork.Parse($"{address}/{prefix}");
        if (!network.BaseAddress.Equals(address))
        {
            // Both are addresses parsed from the request, safe to repeat: no key has the shape of one.
            throw ApiErrors.InvalidArgument(
                "INVALID_ALLOWED_CIDRS",
                $"CIDR {position} of {count} has bits set after its /{prefix} prefix: the network is {network}; write that, or {address}/{maxPrefix} for the one address.");
        }

        return network.ToString();
    }

    // Dotted-quad IPv4 or IPv6 text only: IPAddress.Parse also takes "10" or "0x0a000001", which nobody means as a network.
    private static bool TryParseAddress(string text, out System.Net.IPAddress address)
    {
        address = System.Net.IPAddress.None;
        if (!(Ipv4Pattern().IsMatch(text) || (text.Contains(':', StringComparison.Ordinal) && Ipv6Pattern().IsMatch(text))))
        {
            return false;
        }

        if (!System.Net.IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }

        address = parsed;
        return true;
    }

    private static RpcException InvalidCidr(int position, int count) => ApiErrors.InvalidArgument(
        "INVALID_ALLOWED_CIDRS",
        $"CIDR {position} of {count} is not a network: write an IPv4 or IPv6 address with an optional prefix length (10.0.0.0/8, 2001:db8::/32, or 203.0.113.7 for one address).");

    private static string? Origin(string origin)
    {
        var schemeEnd = origin.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0 || origin.Contains('*', StringComparison.Ordinal)
            || !Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0
            || uri.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || uri.Port is < 1 or > 65535)
        {
            return null;
        }

        // Nothing after the authority but, at most, one slash.
        var rest = origin[(schemeEnd + 3)..];
        var authorityEnd = rest.IndexOfAny(['/', '?', '#']);
        if (authorityEnd >= 0 && rest[authorityEnd..] != "/")
        {
            return null;
        }

        string host;
        try
        {
            host = uri.HostNameType == UriHostNameType.Dns ? uri.IdnHost.ToLowerInvariant() : uri.Host;
        }
        catch (UriFormatException)
        {
            // IdnHost throws for a Unicode host that punycode makes too long (or cannot encode), though the Uri parsed.
            return null;
        }

        // Every gateway's near cache holds a key's origins: a host of megabytes would be held in each of them.
        if (host.Length > MaxOriginHostLength)
        {
            return null;
        }

        return uri.IsDefaultPort ? $"{uri.Scheme}://{host}" : $"{uri.Scheme}://{host}:{uri.Port}";
    }

    private static void WriteStruct(System.Text.Json.Utf8JsonWriter writer, Google.Protobuf.WellKnownTypes.Struct value)
    {
        writer.WriteStartObject();
        foreach (var (name, field) in value.Fields)
        {
            RefuseUnstorable(name);
            RefuseSecrets(name);
            writer.WritePropertyName(name);
            WriteValue(writer, field);
        }

        writer.WriteEndObject();
    }

    private static void WriteValue(System.Text.Json.Utf8JsonWriter writer, Google.Protobuf.WellKnownTypes.Value value)
    {
        switch (value.KindCase)
        {
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.NullValue:
                writer.WriteNullValue();
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.NumberValue when double.IsFinite(value.NumberValue):
                // Measured as stored: written with an exponent, 1E+308 would count 6 bytes of its 309.
                writer.WriteRawValue(PlainDecimal(value.NumberValue), skipInputValidation: true);
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StringValue:
                RefuseUnstorable(value.StringValue);
                RefuseSecrets(value.StringValue);
                writer.WriteStringValue(value.StringValue);
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.BoolValue:
                writer.WriteBooleanValue(value.BoolValue);
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StructValue:
                WriteStruct(writer, value.StructValue);
                break;
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue:
                writer.WriteStartArray();
                foreach (var item in value.ListValue.Values)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                // A value with no kind (gRPC only) or a number JSON cannot hold (NaN, infinity).
                throw ApiErrors.InvalidArgument("INVALID_METADATA", "metadata holds a value that is not JSON (no kind, NaN or infinity).");
        }
    }

    private static void RefuseSecrets(string text)
    {
        if (ContainsSecret(text))
        {
            throw ApiErrors.InvalidArgument(
                "INVALID_METADATA", "metadata holds an API key or an operator token; metadata is listed and audited, so it must hold neither.");
        }
    }

    // Postgres's jsonb cannot hold U+0000 (22P05), and no JSON text holds half a surrogate pair: refused here, as the
    // request's mistake, rather than by the database as a 500.
    private static void RefuseUnstorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (text[i] == '\0' || char.IsSurrogate(text[i]))
            {
                throw ApiErrors.InvalidArgument(
                    "INVALID_METADATA", "metadata holds a NUL character (\\u0000) or half a surrogate pair, which cannot be stored; remove it.");
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="text"/> holds an API key or an operator token anywhere, not only as the whole of it:
    /// "key=sk_…" leaks the key as much as "sk_…" does.
    /// </summary>
    public static bool ContainsSecret(string text)
    {
        foreach (var prefix in (ReadOnlySpan<string>)[KeyString.PublishablePrefix, KeyString.SecretPrefix, OperatorToken.Prefix])
        {
            for (var at = text.IndexOf(prefix, StringComparison.Ordinal); at >= 0 && at + KeyString.Length <= text.Length;
                 at = text.IndexOf(prefix, at + 1, StringComparison.Ordinal))
            {
                var candidate = text.AsSpan(at, KeyString.Length);
                if (KeyString.IsWellFormed(candidate) || OperatorToken.IsWellFormed(candidate))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// A number as Postgres keeps it in jsonb (numeric, printed without an exponent): 1E+308 is 309 digits there, and so
    /// in every listing and audit event that prints the metadata. From the shortest text that reads back as the same
    /// double, so nothing is lost.
    /// </summary>
    public static string PlainDecimal(double value)
    {
        // .NET prints a double in the fewest digits that read back as it (exponent from E+15 and below E-05).
        var shortest = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var e = shortest.IndexOf('E', StringComparison.Ordinal);
        if (e < 0)
        {
            return shortest;
        }

        var negative = shortest[0] == '-';
        var mantissa = shortest[(negative ? 1 : 0)..e];
        var exponent = int.Parse(shortest[(e + 1)..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture);
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        // Where the decimal point falls in digits once the exponent is applied.
        var pointAt = (point < 0 ? mantissa.Length : point) + exponent;
        var plain = pointAt <= 0 ? "0." + new string('0', -pointAt) + digits
            : pointAt >= digits.Length ? digits + new string('0', pointAt - digits.Length)
            : digits[..pointAt] + "." + digits[pointAt..];
        return negative ? "-" + plain : plain;
    }

    [GeneratedRegex(@"^(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}\z")]
    private static partial Regex Ipv4Pattern();

    [GeneratedRegex(@"^[0-9A-Fa-f:.]+\z")]
    private static partial Regex Ipv6Pattern();

    [GeneratedRegex(@"^(?:0|[1-9][0-9]{0,2})\z")]
    private static partial Regex PrefixPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-](?:[A-Za-z0-9_.\- ]{0,62}[A-Za-z0-9_.\-])?\z")]
    private static partial Regex KeyNamePattern();
}
