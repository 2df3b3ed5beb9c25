using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Keys.KeyValidation.Invalidation;

namespace Keys.KeyValidation.UnitTests;

/// <summary>KeyAdmin's CHANGES_TOO_OLD refusal, as KeyValidation reads it (the shape InternalApi.ChangesTooOld sends).</summary>
public sealed class ChangesTooOldTests
{
    [Fact]
    public void FailedPreconditionChangesTooOldBecomesTheExceptionWithWhatWasPruned()
    {
        var tooOld = ChangesTooOldException.From(7, Refusal(StatusCode.FailedPrecondition, "CHANGES_TOO_OLD", ("oldest_sequence", "120"), ("head_sequence", "130")));

        Assert.NotNull(tooOld);
        Assert.Equal((7L, 120L, 130L, 119L), (tooOld.Since, tooOld.Oldest, tooOld.Head, tooOld.PrunedThrough));
    }

    [Fact]
    public void OtherRefusalsAreNotTooOld()
    {
        Assert.Null(ChangesTooOldException.From(7, Refusal(StatusCode.FailedPrecondition, "SOMETHING_ELSE")));
        Assert.Null(ChangesTooOldException.From(7, Refusal(StatusCode.InvalidArgument, "CHANGES_TOO_OLD")));
        Assert.Null(ChangesTooOldException.From(7, new RpcException(new global::Grpc.Core.Status(StatusCode.FailedPrecondition, "no details"))));
    }

    [Fact]
    public void TooOldWithoutItsNumbersTreatsEverythingAsPruned()
    {
        var tooOld = ChangesTooOldException.From(7, Refusal(StatusCode.FailedPrecondition, "CHANGES_TOO_OLD"));

        Assert.NotNull(tooOld);
        // Any Redis watermark is below it: whatever epoch there is ends.
        Assert.Equal(long.MaxValue - 1, tooOld.PrunedThrough);
    }

    private static RpcException Refusal(StatusCode code, string reason, params (string Name, string Value)[] metadata)
    {
        var info = new ErrorInfo { Reason = reason, Domain = "keys.v1" };
        foreach (var (name, value) in metadata)
        {
            info.Metadata.Add(name, value);
        }

        return new Google.Rpc.Status { Code = (int)code, Message = "refused", Details = { Any.Pack(info) } }.ToRpcException();
    }
}
