using System.Globalization;
using Google.Rpc;
using Grpc.Core;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// KeyAdmin pruned invalidations after the sequence asked for (<c>Changes</c> answered FAILED_PRECONDITION,
/// <c>CHANGES_TOO_OLD</c>): whatever was cached as of that sequence may be stale, and nothing can say which entries.
/// The cure is a flush, then carrying on from KeyAdmin's head.
/// </summary>
public sealed class ChangesTooOldException(long since, long oldest, long head, Exception inner)
    : Exception($"KeyAdmin pruned the changes after sequence {since}: it keeps {oldest} to {head}.", inner)
{
    public const string Reason = "CHANGES_TOO_OLD";

    /// <summary>The sequence the caller asked from.</summary>
    public long Since { get; } = since;

    /// <summary>The lowest sequence KeyAdmin still holds; every one below it is gone.</summary>
    public long Oldest { get; } = oldest;

    /// <summary>KeyAdmin's highest sequence when it answered.</summary>
    public long Head { get; } = head;

    /// <summary>
    /// The highest sequence that may have been pruned: a cache whose state reflects every change up to here at least
    /// (a Redis epoch's watermark) missed nothing.
    /// </summary>
    public long PrunedThrough => Oldest - 1;

    /// <summary>The exception KeyAdmin's refusal stands for, or null when <paramref name="error"/> is another one.</summary>
    public static ChangesTooOldException? From(long since, RpcException error)
    {
        if (error.StatusCode != StatusCode.FailedPrecondition
            || error.GetRpcStatus()?.GetDetail<ErrorInfo>() is not { Reason: Reason } info)
        {
            return null;
        }

        // Without the numbers, nothing is known to be kept: carrying on from the head is still right.
        var oldest = Read(info, "oldest_sequence") ?? long.MaxValue;
        var head = Read(info, "head_sequence") ?? 0;
        return new ChangesTooOldException(since, oldest, head, error);
    }

    private static long? Read(ErrorInfo info, string name) =>
        info.Metadata.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
}
