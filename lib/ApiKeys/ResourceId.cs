using System.Security.Cryptography;

namespace Keys.ApiKeys;

/// <summary>Opaque, unguessable identifiers such as <c>prj_…</c> and <c>key_…</c>.</summary>
public static class ResourceId
{
    public const string ProjectPrefix = "prj_";
    public const string KeyPrefix = "key_";
    public const string OperatorPrefix = "opr_";

    private const int RandomBytes = 16;
    private const int BodyLength = 22;

    public static string NewProjectId() => New(ProjectPrefix);

    public static string NewKeyId() => New(KeyPrefix);

    public static string NewOperatorId() => New(OperatorPrefix);

    /// <summary>Shape check only; whether the resource exists is the store's question.</summary>
    public static bool IsWellFormed(string? id, string prefix)
    {
        if (id is null || id.Length != prefix.Length + BodyLength || !id.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in id.AsSpan(prefix.Length))
        {
            if (Base62.DigitValue(c) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static string New(string prefix)
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        return prefix + Base62.Encode(random, BodyLength);
    }
}
