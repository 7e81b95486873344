// SPDX-License-Identifier: Apache-2.0
#include "policiespage.h"

#include "apiclient.h"
#include "models/policytablemodel.h"
#include "policydialog.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace sluice {

PoliciesPage::PoliciesPage(ApiClient *client, QWidget *parent) : QWidget(parent), m_client(client)
{
    m_model = new PolicyTableModel(this);
    m_view = new QTableView;
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->verticalHeader()->hide();
    m_message = new QLabel;
    m_message->setObjectName(QStringLiteral("message"));
    m_message->setWordWrap(true);

    auto *refresh = new QPushButton(QStringLiteral("Refresh"));
    auto *add = new QPushButton(QStringLiteral("Add…"));
    auto *editButton = new QPushButton(QStringLiteral("Edit…"));
    auto *del = new QPushButton(QStringLiteral("Delete"));
    connect(refresh, &QPushButton::clicked, this, &PoliciesPage::refresh);
    connect(add, &QPushButton::clicked, this, [this] {
        PolicyDto fresh;
        fresh.limit = 100;
        edit(fresh);
    });
    auto selected = [this]() -> const PolicyDto * {
        const QModelIndexList rows = m_view->selectionModel()->selectedRows();
        return rows.isEmpty() ? nullptr : m_model->policyAt(rows.first().row());
    };
    connect(editButton, &QPushButton::clicked, this, [this, selected] {
        if (const PolicyDto *p = selected())
            edit(*p);
    });
    connect(m_view, &QTableView::doubleClicked, this, [this](const QModelIndex &index) {
        if (const PolicyDto *p = m_model->policyAt(index.row()))
            edit(*p);
    });
    connect(del, &QPushButton::clicked, this, [this, selected] {
        if (const PolicyDto *p = selected())
            remove(p->id);
    });
    auto *buttons = new QHBoxLayout;
    for (QPushButton *b : {refresh, add, editButton, del})
        buttons->addWidget(b);
    buttons->addStretch();
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_message);
}

void PoliciesPage::showMessage(const QString &text, bool error)
{
    m_message->setText(text);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b3261e") : QString());
    if (error)
        Q_EMIT failed(text);
}

void PoliciesPage::refresh()
{
    m_client->listPolicies(this, [this](const QList<PolicyDto> &policies, const ApiError *error) {
        if (error)
            return showMessage(QStringLiteral("Cannot list policies (%1): %2").arg(error->status()).arg(error->message()), true);
        m_model->setPolicies(policies);
        m_view->resizeColumnsToContents();
        showMessage(QStringLiteral("%1 policies").arg(policies.size()), false);
        Q_EMIT refreshed();
    });
}

void PoliciesPage::edit(const PolicyDto &policy)
{
    auto *dialog = new PolicyDialog(policy, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] { submit(dialog->policy()); });
    dialog->open(); // window-modal, without a nested event loop
}

void PoliciesPage::submit(const PolicyDto &policy)
{
    m_client->savePolicy(policy, this, [this](const PolicyDto &saved, const ApiError *error) {
        if (error)
            return showMessage(QStringLiteral("Not saved (%1): %2").arg(error->status()).arg(error->message()), true);
        showMessage(QStringLiteral("Saved policy %1").arg(saved.id), false);
        refresh();
    });
}

void PoliciesPage::remove(qint64 id)
{
    m_client->deletePolicy(id, this, [this, id](const ApiError *error) {
        if (error)
            return showMessage(QStringLiteral("Not deleted (%1): %2").arg(error->status()).arg(error->message()), true);
        showMessage(QStringLiteral("Deleted policy %1").arg(id), false);
        refresh();
    });
}

QString PoliciesPage::message() const { return m_message->text(); }

} // namespace sluice
