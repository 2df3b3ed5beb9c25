using Keys.KeyAdmin;
using Keys.KeyAdmin.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<KeyAdminService>();
app.MapGrpcHealthChecksService();

app.Run();
