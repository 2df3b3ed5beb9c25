using Keys.AspNetCore;
using Keys.Orders;
using Keys.Orders.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseAuthentication();
app.UseAuthorization();
app.MapGrpcService<OrdersApi>();
app.MapGet("/v1/orders", OrdersHttp.List).RequireScope("orders:read");
app.MapOptionalEndpoints();

app.Run();
