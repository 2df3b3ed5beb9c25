using Google.Rpc;
using Grpc.Core;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

/// <summary>What a client sees of an error: the status, the message and the ErrorInfo reason it acts on.</summary>
internal static class ApiErrorAssert
{
    public static void Is(RpcException error, StatusCode status, string reason, string? message = null)
    {
        Assert.Equal(status, error.StatusCode);
        var rpcStatus = error.GetRpcStatus();
        Assert.NotNull(rpcStatus);
        Assert.Equal((int)status, rpcStatus.Code);
        var info = rpcStatus.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal(reason, info.Reason);
        Assert.Equal(ApiErrors.Domain, info.Domain);
        if (message is not null)
        {
            Assert.Equal(message, error.Status.Detail);
            Assert.Equal(message, rpcStatus.Message);
        }
    }

    /// <summary>Runs a request rule that must refuse, and returns the error for further checks.</summary>
    public static RpcException InvalidArgument(string reason, Action rule)
    {
        var error = Assert.Throws<RpcException>(rule);
        Is(error, StatusCode.InvalidArgument, reason);
        return error;
    }
}
