// SPDX-License-Identifier: Apache-2.0
#include "registrypages.h"

#include "apiclient.h"
#include "message.h"
#include "confirm.h"
#include "models/jsontablemodel.h"
#include "registrycompleter.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace sluice {

namespace {

const QString kNeedsToken = QStringLiteral("No admin token: this page reads the admin API. Give the server's --admin-token in "
                                           "Server → Connect… (Ctrl+L).");

QTableView *tableView(QAbstractItemModel *model)
{
    auto *view = new QTableView;
    view->setModel(model);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->horizontalHeader()->setStretchLastSection(true);
    view->verticalHeader()->hide();
    return view;
}

void fill(ApiClient *client, QObject *context, const QString &kind, QComboBox *combo, bool allowNone)
{
    client->registryIds(kind, context, [combo, allowNone](const QStringList &ids, const ApiError *error) {
        if (!error)
            setPickerChoices(combo, ids, allowNone);
    });
}

} // namespace

ApiKeysPage::ApiKeysPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_model = new JsonTableModel(this);
    m_model->setColumns({{QStringLiteral("id"), QStringLiteral("Id")},
                         {QStringLiteral("tenantId"), QStringLiteral("Tenant")},
                         {QStringLiteral("userId"), QStringLiteral("User")},
                         {QStringLiteral("prefix"), QStringLiteral("Starts with")},
                         {QStringLiteral("createdAt"), QStringLiteral("Created")},
                         {QStringLiteral("revoked"), QStringLiteral("Revoked")}});
    m_view = tableView(m_model);
    m_tenant = entityPicker(QStringLiteral("tenant"), QStringLiteral("tenant (required)"), 14);
    m_user = entityPicker(QStringLiteral("user"), QStringLiteral("user (optional)"), 14);
    m_create = new QPushButton(QStringLiteral("Create key"));
    m_create->setObjectName(QStringLiteral("create"));
    m_revoke = new QPushButton(QStringLiteral("Revoke…"));
    m_revoke->setObjectName(QStringLiteral("revoke"));
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    m_message = new QLabel;
    keepWithinWidth(m_message);
    auto *top = new QHBoxLayout;
    top->addWidget(new QLabel(QStringLiteral("New key for tenant")));
    top->addWidget(m_tenant);
    top->addWidget(new QLabel(QStringLiteral("user")));
    top->addWidget(m_user);
    top->addWidget(m_create);
    top->addStretch(1);
    top->addWidget(m_revoke);
    top->addWidget(refreshButton);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_message);
    connect(refreshButton, &QPushButton::clicked, this, &ApiKeysPage::refresh);
    connect(m_create, &QPushButton::clicked, this, &ApiKeysPage::create);
    connect(m_revoke, &QPushButton::clicked, this, &ApiKeysPage::revokeSelected);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ApiKeysPage::updateActions);
    connect(client, &ApiClient::serverChanged, this, &ApiKeysPage::updateActions);
    updateActions();
}

QString ApiKeysPage::message() const { return m_message->text(); }

void ApiKeysPage::updateActions()
{
    const bool admin = m_client->hasAdminToken();
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    const bool revocable = !rows.isEmpty() && !m_model->rowObject(rows.first().row()).value(QStringLiteral("revoked")).toBool();
    m_create->setEnabled(admin);
    m_revoke->setEnabled(admin && revocable);
    m_create->setToolTip(admin ? QString() : kNeedsToken);
}

void ApiKeysPage::refresh()
{
    updateActions();
    if (!m_client->hasAdminToken()) {
        m_model->setRows({});
        m_message->setText(kNeedsToken);
        markError(m_message);
        Q_EMIT refreshed(false);
        return;
    }
    fill(m_client, this, QStringLiteral("tenants"), m_tenant, false);
    fill(m_client, this, QStringLiteral("users"), m_user, true);
    m_client->listApiKeys(this, [this](const QJsonArray &keys, const ApiError *error) {
        if (error) {
            m_message->setText(QStringLiteral("Cannot list the API keys: %1").arg(error->message()));
            markError(m_message);
            Q_EMIT refreshed(false);
            return;
        }
        m_model->setRows(keys);
        m_view->resizeColumnsToContents();
        m_message->setText(QStringLiteral("%1 keys. The keys themselves are never shown again after creation: only their "
                                          "first characters.")
                               .arg(keys.size()));
        markError(m_message);
        updateActions();
        Q_EMIT refreshed(true);
    });
}

void ApiKeysPage::create()
{
    const QString tenant = m_tenant->currentText().trimmed();
    if (tenant.isEmpty()) {
        m_message->setText(QStringLiteral("Name the tenant the key belongs to."));
        markError(m_message);
        return;
    }
    m_client->createApiKey(tenant, m_user->currentText().trimmed(), this, [this](const QJsonObject &answer, const ApiError *error) {
        if (error) {
            m_message->setText(QStringLiteral("The server refused the key: %1").arg(error->message()));
            markError(m_message);
            return;
        }
        const QString plaintext = answer.value(QStringLiteral("apiKey")).toString();
        // Shown once: a dialog with the key selectable and a copy button.
        auto *dialog = new QDialog(this);
        dialog->setObjectName(QStringLiteral("newApiKey"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setWindowTitle(QStringLiteral("New API key %1").arg(answer.value(QStringLiteral("id")).toInteger()));
        auto *field = new QLineEdit(plaintext);
        field->setObjectName(QStringLiteral("plaintext"));
        field->setReadOnly(true);
        field->setMinimumWidth(420);
        auto *copy = new QPushButton(QStringLiteral("Copy"));
        copy->setObjectName(QStringLiteral("copy"));
        connect(copy, &QPushButton::clicked, dialog, [plaintext, copy] {
            QApplication::clipboard()->setText(plaintext);
            copy->setText(QStringLiteral("Copied"));
        });
        auto *row = new QHBoxLayout;
        row->addWidget(field, 1);
        row->addWidget(copy);
        auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close);
        connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
        auto *layout = new QVBoxLayout(dialog);
        layout->addWidget(new QLabel(QStringLiteral("Store this key now: the server keeps only its SHA-256 and will not show it "
                                                    "again. Callers send it as X-API-Key or \"apiKey\".")));
        layout->addLayout(row);
        layout->addWidget(buttons);
        dialog->open();
        m_message->setText(QStringLiteral("Created key %1 for %2.")
                               .arg(answer.value(QStringLiteral("id")).toInteger())
                               .arg(answer.value(QStringLiteral("tenantId")).toString()));
        markError(m_message);
        Q_EMIT created(plaintext);
        refresh();
    });
}

void ApiKeysPage::revokeSelected()
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return;
    const QJsonObject key = m_model->rowObject(rows.first().row());
    const qint64 id = key.value(QStringLiteral("id")).toInteger();
    const QString question = QStringLiteral("Revoke key %1 (%2…, tenant %3)? Every check with it is refused (401) from now on; "
                                            "this cannot be undone.")
                                 .arg(id)
                                 .arg(key.value(QStringLiteral("prefix")).toString(), key.value(QStringLiteral("tenantId")).toString());
    confirmThen(this, QStringLiteral("confirmRevoke"), QStringLiteral("Revoke API key"), question, [this, id] {
        m_client->revokeApiKey(id, this, [this, id](const ApiError *error) {
            m_message->setText(error ? QStringLiteral("Cannot revoke key %1: %2").arg(id).arg(error->message())
                                     : QStringLiteral("Revoked key %1.").arg(id));
            markError(m_message);
            refresh();
        });
    });
}

EntitiesPage::EntitiesPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_kind = new QComboBox;
    m_kind->setObjectName(QStringLiteral("kind"));
    m_kind->addItem(QStringLiteral("Tenants"), QStringLiteral("tenants"));
    m_kind->addItem(QStringLiteral("Users"), QStringLiteral("users"));
    m_kind->addItem(QStringLiteral("Models"), QStringLiteral("models"));
    m_kind->addItem(QStringLiteral("Model tiers"), QStringLiteral("tiers"));
    m_model = new JsonTableModel(this);
    auto *view = tableView(m_model);
    auto *refreshButton = new QPushButton(QStringLiteral("Refresh"));
    m_message = new QLabel;
    keepWithinWidth(m_message);
    auto *top = new QHBoxLayout;
    top->addWidget(new QLabel(QStringLiteral("Show")));
    top->addWidget(m_kind);
    top->addStretch(1);
    top->addWidget(refreshButton);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(view, 1);
    layout->addWidget(m_message);
    connect(m_kind, &QComboBox::currentIndexChanged, this, &EntitiesPage::refresh);
    connect(refreshButton, &QPushButton::clicked, this, &EntitiesPage::refresh);
}

QString EntitiesPage::message() const { return m_message->text(); }

void EntitiesPage::showKind(const QString &kind)
{
    const int i = m_kind->findData(kind);
    if (i >= 0 && i != m_kind->currentIndex())
        m_kind->setCurrentIndex(i); // refreshes
    else
        refresh();
}

void EntitiesPage::refresh()
{
    const QString kind = m_kind->currentData().toString();
    if (kind == QLatin1String("tenants"))
        m_model->setColumns({{QStringLiteral("id"), QStringLiteral("Tenant")}, {QStringLiteral("name"), QStringLiteral("Name")}});
    else if (kind == QLatin1String("users"))
        m_model->setColumns({{QStringLiteral("id"), QStringLiteral("User")}, {QStringLiteral("tenantId"), QStringLiteral("Tenant")}});
    else if (kind == QLatin1String("models"))
        m_model->setColumns({{QStringLiteral("id"), QStringLiteral("Model")}, {QStringLiteral("tier"), QStringLiteral("Tier")}});
    else
        m_model->setColumns({{QStringLiteral("id"), QStringLiteral("Tier")}});
    if (!m_client->hasAdminToken()) {
        m_message->setText(kNeedsToken);
        markError(m_message);
        Q_EMIT refreshed(false);
        return;
    }
    m_client->registry(kind, this, [this, kind](const QJsonArray &rows, const ApiError *error) {
        if (error) {
            m_message->setText(QStringLiteral("Cannot read the %1: %2").arg(kind, error->message()));
            markError(m_message);
            Q_EMIT refreshed(false);
            return;
        }
        m_model->setRows(rows);
        m_message->setText(QStringLiteral("%1 %2 in the registry (edited in Postgres or the registry file; policies on the "
                                          "Policies page).")
                               .arg(rows.size())
                               .arg(kind));
        markError(m_message);
        Q_EMIT refreshed(true);
    });
}

} // namespace sluice
